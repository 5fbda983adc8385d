"""Where each recording of a room starts, from Twilio's fields.

Twilio's rule (its manual-mixing tutorial): a recording's absolute start is its `offset` (ms
from an epoch common to all group rooms to the moment its room started) plus its file's own
start time (the first packet's timestamp, ffprobe's `start_time`). Offsets of one room differ
only when the room was moved between media servers, so each recording's place in the room is
its file start plus how much later than the room's earliest offset its own offset is."""

from __future__ import annotations

from collections.abc import Mapping


def placements(offsets_ms: Mapping[str, int], file_starts: Mapping[str, float]) -> dict[str, float]:
    """Seconds from the room's start to each recording's first packet, by recording SID."""
    if not offsets_ms:
        return {}
    origin = min(offsets_ms.values())
    return {sid: file_starts.get(sid, 0.0) + (offsets_ms[sid] - origin) / 1000 for sid in offsets_ms}
