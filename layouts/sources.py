"""Sources a layout can select: the recordings of a room manifest, and how names match them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import LayoutError

SID_PATTERN = re.compile(r"^[A-Za-z]{2}[0-9a-fA-F]{32}$")


@dataclass(frozen=True)
class Source:
    """One recording: a single track over one span of the room timeline (seconds)."""

    sid: str
    kind: str
    start: float
    end: float
    track_sid: str = ""
    track_name: str = ""
    participant_sid: str = ""
    participant_identity: str = ""

    @classmethod
    def from_recording(cls, rec: dict[str, Any]) -> Source:
        return cls(
            sid=str(rec["sid"]),
            kind=str(rec.get("kind", "")),
            start=float(rec["start"]),
            end=float(rec["end"]),
            track_sid=str(rec.get("track_sid") or ""),
            track_name=str(rec.get("track_name") or rec.get("track_sid") or ""),
            participant_sid=str(rec.get("participant_sid") or ""),
            participant_identity=str(rec.get("participant_identity") or ""),
        )


def sources_from_manifest(manifest: dict[str, Any]) -> list[Source]:
    return [Source.from_recording(r) for r in manifest.get("recordings", [])]


def _name_regex(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$", re.S)


def matches(pattern: str, source: Source) -> bool:
    """Twilio selection: a PA, MT or RT SID, or a track name where `*` is any run of characters."""
    if SID_PATTERN.match(pattern):
        prefix = pattern[:2].upper()
        if prefix == "RT":
            return source.sid.lower() == pattern.lower()
        if prefix == "MT":
            return source.track_sid.lower() == pattern.lower()
        if prefix == "PA":
            return source.participant_sid.lower() == pattern.lower()
    return bool(_name_regex(pattern).match(source.track_name))


def check_patterns(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise LayoutError(field, "must be a list")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise LayoutError(f"{field}[{i}]", "must be a non-empty string")
    return list(value)


def select(
    sources: Iterable[Source], kind: str, include: Sequence[str], exclude: Sequence[str] = ()
) -> list[Source]:
    """The sources of `kind` matched by `include` and by none of `exclude`, in start order."""
    chosen = [
        s
        for s in sources
        if s.kind == kind and any(matches(p, s) for p in include) and not any(matches(p, s) for p in exclude)
    ]
    return sorted(chosen, key=lambda s: (s.start, s.end, s.sid))
