"""The room manifest (`room.json`): the contract between recording and composition."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ManifestError(ValueError):
    pass


@dataclass(frozen=True)
class Event:
    t: float
    type: str


@dataclass(frozen=True)
class Recording:
    sid: str
    kind: str
    codec: str
    start: float
    end: float
    media: str
    track_name: str = ""
    events: tuple[Event, ...] = field(default_factory=tuple)

    def disabled_spans(self) -> list[tuple[float, float]]:
        """Stretches of room time with the track disabled by its publisher."""
        spans: list[tuple[float, float]] = []
        since: float | None = None
        for event in sorted(self.events, key=lambda e: e.t):
            if event.type == "disabled" and since is None:
                since = event.t
            elif event.type == "enabled" and since is not None:
                spans.append((since, event.t))
                since = None
        if since is not None:
            spans.append((since, float("inf")))
        return spans


@dataclass
class RoomManifest:
    directory: Path
    data: dict[str, Any]
    recordings: dict[str, Recording]

    @property
    def room_sid(self) -> str:
        return str(self.data.get("room_sid", ""))

    def media_path(self, sid: str) -> Path:
        return self.directory / self.recordings[sid].media


def _recording(raw: Any, index: int) -> Recording:
    where = f"room.json recordings[{index}]"
    if not isinstance(raw, dict):
        raise ManifestError(f"{where} must be an object")
    for key in ("sid", "kind", "start", "end", "media"):
        if key not in raw:
            raise ManifestError(f"{where} has no {key!r}")
    try:
        events = tuple(Event(float(e["t"]), str(e["type"])) for e in raw.get("events") or [])
        return Recording(
            sid=str(raw["sid"]),
            kind=str(raw["kind"]),
            codec=str(raw.get("codec", "")),
            start=float(raw["start"]),
            end=float(raw["end"]),
            media=str(raw["media"]),
            track_name=str(raw.get("track_name") or ""),
            events=events,
        )
    except (TypeError, ValueError, KeyError) as exc:
        raise ManifestError(f"{where} ({raw.get('sid')}) has a malformed field: {exc}") from None


def load_manifest(path: Path | str) -> RoomManifest:
    """Read `room.json` (or a directory holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / "room.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ManifestError(f"no room manifest at {path}") from None
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict) or not isinstance(data.get("recordings"), list):
        raise ManifestError(f"{path} must be an object with a 'recordings' list")
    recordings = [_recording(r, i) for i, r in enumerate(data["recordings"])]
    return RoomManifest(path.parent, data, {r.sid: r for r in recordings})
