"""Who spoke when: speaking intervals in room time from audio level timelines.

A slot at level <= THRESHOLD (-dBov, RFC 6464: 0 loudest, 127 silence) is speech; pauses of up
to BRIDGE seconds inside speech are joined into one interval. The intervals are what
`layouts.build_plan(speech=...)` takes for active-speaker regions (docs/layouts.md), which then
decide who holds the floor; `layouts` never reads media, so this lives here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from layouts.intervals import merge

from .levels import LevelTimeline

THRESHOLD = 50
BRIDGE = 0.3

Interval = tuple[float, float]


def speaking_intervals(
    timeline: LevelTimeline, start: float, threshold: int = THRESHOLD, bridge: float = BRIDGE
) -> list[Interval]:
    """Room-time intervals of speech in one recording that starts at room time `start`."""
    found: list[Interval] = []
    step = 1.0 / timeline.rate
    run_start: int | None = None
    for i, level in enumerate([*timeline.values, 127]):
        loud = level <= threshold and i < len(timeline.values)
        if loud and run_start is None:
            run_start = i
        elif not loud and run_start is not None:
            a, b = start + run_start * step, start + i * step
            if found and a - found[-1][1] <= bridge + 1e-9:
                found[-1] = (found[-1][0], b)
            else:
                found.append((a, b))
            run_start = None
    return [(round(a, 6), round(b, 6)) for a, b in found]


def room_speech(
    recordings: Iterable[Mapping[str, Any]],
    timelines: Mapping[str, LevelTimeline],
    threshold: int = THRESHOLD,
    bridge: float = BRIDGE,
) -> dict[str, list[Interval]]:
    """Per participant SID, when they spoke (over all their audio recordings with a timeline)."""
    by_participant: dict[str, list[Interval]] = {}
    for rec in recordings:
        sid, participant = str(rec.get("sid")), str(rec.get("participant_sid") or "")
        if rec.get("kind") != "audio" or not participant or sid not in timelines:
            continue
        intervals = speaking_intervals(timelines[sid], float(rec["start"]), threshold, bridge)
        by_participant.setdefault(participant, []).extend(intervals)
    return {p: merge(found) for p, found in by_participant.items()}


def speech_in_room_dir(directory, recordings: Iterable[Mapping[str, Any]]) -> dict[str, list[Interval]]:
    """The room's speech from the levels beside its media (computed and cached there if missing)."""
    from pathlib import Path

    from .level_meter import levels_in_room_dir

    recordings = list(recordings)
    return room_speech(recordings, levels_in_room_dir(Path(directory), recordings))
