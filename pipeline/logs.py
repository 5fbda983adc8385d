"""Log set-up for every roomreel process: text by default, or one JSON object per line
(`ROOMREEL_LOG_FORMAT=json`) carrying the room, participant, recording and composition SIDs the
line is about, from the surrounding `log_context` or found in the message itself."""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "roomreel_log_context", default=None
)
SID_FIELDS = {"RM": "room_sid", "PA": "participant_sid", "RT": "recording_sid", "CJ": "composition_sid"}
_SID = re.compile(r"\b(RM|PA|RT|CJ)[0-9a-f]{32}\b")


def _with(sids: dict[str, str | None]) -> dict[str, str]:
    return {**(_context.get() or {}), **{k: v for k, v in sids.items() if v}}


@contextmanager
def log_context(**sids: str | None) -> Iterator[None]:
    """Every line logged inside (including tasks started inside) names these SIDs."""
    token = _context.set(_with(sids))
    try:
        yield
    finally:
        _context.reset(token)


def bind(**sids: str | None) -> None:
    """Add SIDs to the current context for the rest of this task (a signaling session)."""
    _context.set(_with(sids))


def sids_of(record: logging.LogRecord) -> dict[str, str]:
    found = dict(_context.get() or {})
    for prefix, sid in ((m.group(1), m.group(0)) for m in _SID.finditer(record.getMessage())):
        found.setdefault(SID_FIELDS[prefix], sid)
    for field in SID_FIELDS.values():
        if isinstance(getattr(record, field, None), str):
            found[field] = getattr(record, field)
    return found


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **sids_of(record),
            "process": record.process,
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802
        # One event, one line: a client-chosen identity with a newline must not forge another.
        record.message = record.message.replace("\r", "\\r").replace("\n", "\\n")
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = {k: v for k, v in sids_of(record).items() if v not in record.getMessage()}
        return text + "".join(f" {k}={v}" for k, v in extra.items())


def configure(fmt: str | None = None, level: str | None = None, default_level: str = "INFO") -> None:
    """Send roomreel's logs to stderr in `fmt` (text|json) at `level`, else ROOMREEL_LOG_LEVEL,
    else `default_level`."""
    fmt = (fmt or os.environ.get("ROOMREEL_LOG_FORMAT") or "text").lower()
    if fmt not in ("text", "json"):
        raise ValueError(f"ROOMREEL_LOG_FORMAT is text or json, not {fmt!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel((level or os.environ.get("ROOMREEL_LOG_LEVEL") or default_level).upper())
    logging.captureWarnings(True)  # a library's warning is a log line too, in the same format
    # aiortc and aioice are chatty at INFO (every ICE state change of every peer connection).
    for noisy in ("aiortc", "aioice"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
