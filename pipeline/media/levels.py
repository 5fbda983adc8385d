"""An audio track's level timeline: how loud it was, 20 times a second, next to its media.

The SFU reads each packet's level from the RTP header extension `ssrc-audio-level` (RFC 6464)
without decoding, and the recorder keeps one value per 50 ms of the recording in
`{RecordingSid}.levels.json` beside `{RecordingSid}.mka` (storage key
`rooms/{RoomSid}/{RecordingSid}.levels.json`). For a recording that has none, such as an
imported one, the same file is computed from its decoded audio and cached there.

Values are RFC 6464 levels: -dBov from 0 (the loudest) to 127 (silence). Index i covers the
recording's own time [i/rate, (i+1)/rate), that is room time `start + i/rate` with `start` the
recording's start in the room manifest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

RATE = 20
SILENCE = 127
SUFFIX = ".levels.json"


class LevelsError(ValueError):
    pass


def levels_name(recording_sid: str) -> str:
    """The file name beside the media in a room directory (and the last part of its key)."""
    return f"{recording_sid}{SUFFIX}"


def levels_key(room_sid: str, recording_sid: str) -> str:
    return f"rooms/{room_sid}/{levels_name(recording_sid)}"


@dataclass(frozen=True)
class LevelTimeline:
    rate: int
    values: tuple[int, ...]
    # "rtp": read from the packets' ssrc-audio-level; "decoded": computed from the media.
    source: str = "rtp"

    def at(self, t: float) -> int:
        """The level at `t` seconds into the recording; silence outside it."""
        index = int(t * self.rate)
        return self.values[index] if 0 <= index < len(self.values) else SILENCE

    def to_json(self) -> str:
        return json.dumps({"rate": self.rate, "source": self.source, "levels": list(self.values)},
                          separators=(",", ":"))  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> LevelTimeline:
        try:
            data = json.loads(text)
            rate = int(data["rate"])
            values = tuple(min(SILENCE, max(0, int(v))) for v in data["levels"])
        except (ValueError, KeyError, TypeError) as exc:
            raise LevelsError(f"not a level timeline: {exc}") from None
        if rate <= 0:
            raise LevelsError("a level timeline's rate must be positive")
        return cls(rate, values, str(data.get("source", "rtp")))

    @classmethod
    def load(cls, path: Path) -> LevelTimeline:
        return cls.from_json(path.read_text())

    def save(self, path: Path) -> Path:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.to_json())
        tmp.replace(path)
        return path


class LevelAccumulator:
    """Packets' levels, folded into one value per 1/RATE s: the loudest (lowest) in each slot,
    since a slot's talk should count even when one packet in it was quiet."""

    def __init__(self, rate: int = RATE) -> None:
        self.rate = rate
        self._values: list[int] = []

    def add(self, t: float, level: int) -> None:
        """`t`: seconds since the recording's start."""
        if t < 0:
            return
        index = int(t * self.rate)
        if index >= len(self._values):
            self._values.extend([SILENCE] * (index + 1 - len(self._values)))
        self._values[index] = min(self._values[index], max(0, min(SILENCE, level)))

    def timeline(self, duration: float | None = None) -> LevelTimeline:
        values = list(self._values)
        if duration is not None:
            wanted = int(round(duration * self.rate))
            values = values[:wanted] + [SILENCE] * max(0, wanted - len(values))
        return LevelTimeline(self.rate, tuple(values), "rtp")
