"""Room-time intervals: subtracting, fast lookups, and the stretches a source is needed for
(`merge` comes from layouts.intervals, which the plan's trim uses too)."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence

from layouts import Plan, Segment
from layouts.intervals import Interval, merge


def subtract(intervals: Sequence[Interval], holes: Sequence[Interval]) -> list[Interval]:
    result = list(intervals)
    for hole_start, hole_end in holes:
        cut: list[Interval] = []
        for start, end in result:
            if hole_end <= start or hole_start >= end:
                cut.append((start, end))
                continue
            if start < hole_start:
                cut.append((start, hole_start))
            if hole_end < end:
                cut.append((hole_end, end))
        result = cut
    return result


class IntervalSet:
    """Sorted, disjoint intervals with a fast overlap test."""

    def __init__(self, intervals: Iterable[Interval]) -> None:
        self.intervals = merge(intervals)
        self._starts = [s for s, _ in self.intervals]

    @property
    def start(self) -> float:
        return self.intervals[0][0] if self.intervals else 0.0

    def overlaps(self, start: float, end: float) -> bool:
        i = bisect.bisect_right(self._starts, end) - 1
        while i >= 0:
            s, e = self.intervals[i]
            if e <= start:
                return False
            if s < end or (s == start == end):
                return True
            i -= 1
        return False

    def contains(self, t: float) -> bool:
        i = bisect.bisect_right(self._starts, t) - 1
        return i >= 0 and self.intervals[i][1] > t


def visible_spans(plan: Plan) -> dict[str, list[Interval]]:
    """Room-time spans where each video source is on screen, and its tile sizes."""
    spans: dict[str, list[Interval]] = {}
    for seg in plan.segments:
        room_end = seg.room_start + (seg.end - seg.start)
        for tile in seg.tiles:
            spans.setdefault(tile.source, []).append((seg.room_start, room_end))
    return {sid: merge(v) for sid, v in spans.items()}


def tile_sizes(plan: Plan) -> dict[str, set[tuple[int, int]]]:
    sizes: dict[str, set[tuple[int, int]]] = {}
    for seg in plan.segments:
        for tile in seg.tiles:
            sizes.setdefault(tile.source, set()).add((tile.width, tile.height))
    return sizes


def tick_count(plan: Plan, tick: float) -> int:
    return max(1, round(plan.duration / tick)) if plan.duration > 0 else 0


def output_ticks(plan: Plan, tick: float) -> Iterator[tuple[int, float, Segment, float]]:
    """(index, output time, its segment, room time) of every tick: the video loop and the audio
    thread walk the same ticks, so both map output time to room time through the same segment."""
    segments = plan.segments
    seg_index = 0
    for n in range(tick_count(plan, tick)):
        t_out = n * tick
        while seg_index + 1 < len(segments) and t_out >= segments[seg_index].end:
            seg_index += 1
        seg = segments[seg_index]
        yield n, t_out, seg, seg.room_start + (t_out - seg.start)
