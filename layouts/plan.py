"""The plan: who is where, when, on the output timeline (the format of docs/design.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import LayoutError
from .grid import assign_cells, grid_dimensions, max_concurrent, required_cells
from .intervals import merge
from .resolution import Resolution
from .sources import Source, check_patterns, select
from .speaker import claims, floor_changes
from .spec import RegionSpec

# Per participant SID, the room-time intervals in which they spoke (active-speaker regions).
Speech = Mapping[str, Sequence[tuple[float, float]]]


@dataclass(frozen=True)
class Tile:
    source: str
    region: str
    cell: int
    x: int
    y: int
    width: int
    height: int
    z: int


@dataclass
class Segment:
    start: float
    end: float
    # Room time at `start`; output time t maps to room time room_start + (t - start).
    room_start: float
    tiles: list[Tile] = field(default_factory=list)


@dataclass(frozen=True)
class AudioSpan:
    source: str
    start: float
    end: float


@dataclass
class Plan:
    resolution: str
    duration: float
    segments: list[Segment]
    audio: list[AudioSpan]

    @property
    def width(self) -> int:
        return int(self.resolution.split("x")[0])

    @property
    def height(self) -> int:
        return int(self.resolution.split("x")[1])

    @property
    def has_video(self) -> bool:
        return any(seg.tiles for seg in self.segments)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        return cls(
            resolution=data["resolution"],
            duration=float(data["duration"]),
            segments=[
                Segment(
                    start=float(s["start"]),
                    end=float(s["end"]),
                    room_start=float(s.get("room_start", s["start"])),
                    tiles=[Tile(**t) for t in s["tiles"]],
                )
                for s in data["segments"]
            ],
            audio=[AudioSpan(**a) for a in data.get("audio", [])],
        )

    def window(self, start: float, end: float) -> Plan:
        """The part of the plan in output time [start, end), shifted to begin at 0."""
        segments = []
        for seg in self.segments:
            a, b = max(seg.start, start), min(seg.end, end)
            if b <= a:
                continue
            segments.append(
                Segment(
                    _round(a - start),
                    _round(b - start),
                    _round(seg.room_start + a - seg.start),
                    list(seg.tiles),
                )
            )
        audio = [
            AudioSpan(span.source, _round(max(span.start, start) - start), _round(min(span.end, end) - start))
            for span in self.audio
            if min(span.end, end) > max(span.start, start)
        ]
        return Plan(self.resolution, _round(end - start), segments, audio)

    def video_only(self) -> Plan:
        return Plan(self.resolution, self.duration, self.segments, [])

    def audio_only(self) -> Plan:
        return Plan(
            self.resolution,
            self.duration,
            [Segment(s.start, s.end, s.room_start, []) for s in self.segments],
            self.audio,
        )

    def segment_at(self, t: float) -> Segment | None:
        for seg in self.segments:
            if seg.start <= t < seg.end:
                return seg
        return None


class NothingSelected(LayoutError):
    pass


@dataclass(frozen=True)
class _Visible:
    """A tile shown over [start, end) of the room timeline."""

    start: float
    end: float
    tile: Tile


def _region_rect(region: RegionSpec, res: Resolution) -> tuple[int, int, int, int]:
    width = min(region.width or res.width, res.width - region.x_pos)
    height = min(region.height or res.height, res.height - region.y_pos)
    return region.x_pos, region.y_pos, width, height


def _region_visibility(
    region: RegionSpec, sources: Sequence[Source], res: Resolution, speech: Speech | None = None
) -> list[_Visible]:
    chosen = [
        s
        for s in select(sources, "video", region.video_sources, region.video_sources_excluded)
        if s.end > s.start
    ]
    if not chosen:
        return []
    if region.active_speaker:
        return _speaker_visibility(region, chosen, res, speech)
    cells = required_cells(chosen, region.reuse, region.cells_excluded)
    rows, columns = grid_dimensions(region.max_rows, region.max_columns, cells)
    assignments = assign_cells(chosen, region.reuse, rows * columns, region.cells_excluded)
    x0, y0, width, height = _region_rect(region, res)
    cell_w, cell_h = width // columns, height // rows
    if cell_w < 2 or cell_h < 2:
        return []  # more rows or columns than the region has pixels: nothing fits
    visible: list[_Visible] = []
    for cell in sorted({a.cell for a in assignments}):
        holders = [a for a in assignments if a.cell == cell]
        times = sorted({t for a in holders for t in (a.source.start, a.source.end)})
        for start, end in zip(times, times[1:]):
            live = [a for a in holders if a.source.start <= start and a.source.end >= end]
            if not live:
                continue
            winner = min(live, key=lambda a: a.priority)
            tile = _cell_tile(region, winner.source.sid, cell, columns, (x0, y0, cell_w, cell_h))
            if visible and visible[-1].tile == tile and visible[-1].end == start:
                visible[-1] = _Visible(visible[-1].start, end, tile)
            else:
                visible.append(_Visible(start, end, tile))
    return visible


def _cell_tile(
    region: RegionSpec, sid: str, cell: int, columns: int, grid: tuple[int, int, int, int]
) -> Tile:
    """`sid` in cell `cell` of a region's grid (x0, y0, cell width, cell height)."""
    x0, y0, cell_w, cell_h = grid
    row, column = divmod(cell, columns)
    return Tile(
        source=sid,
        region=region.name,
        cell=cell,
        x=x0 + column * cell_w,
        y=y0 + row * cell_h,
        width=cell_w,
        height=cell_h,
        z=region.z_pos,
    )


def _speaker_visibility(
    region: RegionSpec, chosen: list[Source], res: Resolution, speech: Speech | None
) -> list[_Visible]:
    """An active-speaker region: at each instant its live sources, ordered by the floor (most
    recent speaker first, then those who never spoke in start order), minus the first
    `active_speaker_skip`, fill its usable cells in order. `reuse` does not apply."""
    skip = region.active_speaker_skip
    needed = max(1, max_concurrent(chosen) - skip)
    for cell in region.cells_excluded:  # as required_cells: an excluded cell inside takes a place
        if cell < needed:
            needed += 1
    rows, columns = grid_dimensions(region.max_rows, region.max_columns, needed)
    usable = [c for c in range(rows * columns) if c not in set(region.cells_excluded)]
    x0, y0, width, height = _region_rect(region, res)
    cell_w, cell_h = width // columns, height // rows
    if cell_w < 2 or cell_h < 2 or not usable:
        return []
    normal = {s: i for i, s in enumerate(chosen)}  # select() returns start order
    participants = {s.participant_sid for s in chosen if s.participant_sid}
    changes = floor_changes(claims(speech, participants), region.active_speaker_hold)
    times = sorted({t for s in chosen for t in (s.start, s.end)} | {t for t, _ in changes})
    opened: dict[int, _Visible] = {}
    visible: list[_Visible] = []
    for start, end in zip(times, times[1:]):
        order: tuple[str, ...] = ()
        for at, floor in changes:
            if at > start:
                break
            order = floor
        rank = {p: i for i, p in enumerate(order)}
        live = [s for s in chosen if s.start <= start and s.end >= end]
        live.sort(key=lambda s: (rank.get(s.participant_sid, len(rank)), normal[s]))
        for cell, source in zip(usable, live[skip:]):
            tile = _cell_tile(region, source.sid, cell, columns, (x0, y0, cell_w, cell_h))
            before = opened.get(cell)
            if before is not None and before.tile == tile and before.end == start:
                opened[cell] = _Visible(before.start, end, tile)
            else:
                if before is not None:
                    visible.append(before)
                opened[cell] = _Visible(start, end, tile)
    visible.extend(opened.values())
    return visible


def _round(t: float) -> float:
    return round(t, 6)


def _nothing_selected(sources: Sequence[Source]) -> str:
    """Says what the room does have, so a selection can be fixed without looking it up."""
    if not sources:
        return "selects nothing: this room has no recordings"
    names = sorted({f"{s.track_name or s.sid} ({s.kind})" for s in sources})
    shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
    return f"selects no video or audio recording of this room; its tracks are {shown}"


def build_plan(
    regions: Sequence[RegionSpec],
    sources: Sequence[Source],
    resolution: Resolution,
    audio_sources: Sequence[str] = (),
    audio_sources_excluded: Sequence[str] = (),
    trim: bool = True,
    room_duration: float | None = None,
    speech: Speech | None = None,
) -> Plan:
    """`speech` feeds the regions with `active_speaker`: per participant SID, the room-time
    intervals in which they spoke. Without it such a region shows its sources as if nobody spoke
    (the normal order), which is also what it shows before the first speaker."""
    audio_sources = check_patterns(list(audio_sources), "audio_sources")
    audio_sources_excluded = check_patterns(list(audio_sources_excluded), "audio_sources_excluded")
    order = {r.name: i for i, r in enumerate(regions)}
    visible: list[_Visible] = []
    for region in regions:
        visible.extend(_region_visibility(region, sources, resolution, speech))
    audio = [s for s in select(sources, "audio", audio_sources, audio_sources_excluded) if s.end > s.start]
    if not visible and not audio:
        raise NothingSelected("video_layout" if regions else "audio_sources", _nothing_selected(sources))

    media = [(v.start, v.end) for v in visible] + [(s.start, s.end) for s in audio]
    if trim:
        pieces = merge(media)
    else:
        end = max([room_duration or 0.0] + [e for _, e in media])
        pieces = [(0.0, end)]

    cuts = sorted({t for v in visible for t in (v.start, v.end)})
    segments: list[Segment] = []
    out = 0.0
    for piece_start, piece_end in pieces:
        inner = [t for t in cuts if piece_start < t < piece_end]
        bounds = [piece_start, *inner, piece_end]
        for start, end in zip(bounds, bounds[1:]):
            tiles = [v.tile for v in visible if v.start <= start and v.end >= end]
            tiles.sort(key=lambda t: (t.z, order[t.region], t.cell))
            segment_start = _round(out)
            out += end - start
            segments.append(Segment(segment_start, _round(out), _round(start), tiles))
    for a, b in zip(segments, segments[1:]):
        if a.tiles == b.tiles and _round(a.room_start + (a.end - a.start)) == b.room_start:
            b.start, b.room_start = a.start, a.room_start
            a.end = a.start  # merged into b; dropped below
    segments = [s for s in segments if s.end > s.start]

    def to_output(t: float) -> float:
        for seg in segments:
            if seg.room_start <= t <= seg.room_start + (seg.end - seg.start) + 1e-9:
                return _round(seg.start + (t - seg.room_start))
        return 0.0

    spans = [AudioSpan(s.sid, to_output(s.start), to_output(s.end)) for s in audio]
    return Plan(str(resolution), _round(out), segments, spans)
