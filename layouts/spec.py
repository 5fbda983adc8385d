"""Parse and validate a Twilio `video_layout` into regions, echoing Twilio's defaults."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import LayoutError
from .resolution import Resolution
from .sources import check_patterns
from .speaker import DEFAULT_HOLD

REUSE_MODES = ("none", "show_oldest", "show_newest")
Z_RANGE = (-99, 99)
MAX_GRID_SIDE = 100
MIN_REGION_SIDE = 16
_KNOWN = {
    "video_sources",
    "video_sources_excluded",
    "x_pos",
    "y_pos",
    "z_pos",
    "width",
    "height",
    "max_columns",
    "max_rows",
    "cells_excluded",
    "reuse",
    # roomreel's own extension (docs/layouts.md): the region follows whoever speaks.
    "active_speaker",
    "active_speaker_hold",
    "active_speaker_skip",
}
MAX_HOLD = 3600.0


@dataclass
class RegionSpec:
    """One named region as the user wrote it, with Twilio's defaults filled in."""

    name: str
    video_sources: list[str]
    video_sources_excluded: list[str] = field(default_factory=list)
    x_pos: int = 0
    y_pos: int = 0
    z_pos: int = 0
    width: int | None = None
    height: int | None = None
    max_columns: int | None = None
    max_rows: int | None = None
    cells_excluded: list[int] = field(default_factory=list)
    reuse: str = "show_oldest"
    active_speaker: bool = False
    active_speaker_hold: float = DEFAULT_HOLD
    active_speaker_skip: int = 0

    def echo(self) -> dict[str, Any]:
        """The region as Twilio echoes it in a Composition resource; roomreel's active-speaker
        keys only on a region that uses them, so every other layout echoes as before."""
        data = asdict(self)
        del data["name"]
        if not self.active_speaker:
            for key in ("active_speaker", "active_speaker_hold", "active_speaker_skip"):
                del data[key]
        return dict(sorted(data.items()))


def _int(value: Any, path: str, *, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise LayoutError(path, "must be an integer")
    if lo is not None and value < lo:
        raise LayoutError(path, f"must be at least {lo}, got {value}")
    if hi is not None and value > hi:
        raise LayoutError(path, f"must be at most {hi}, got {value}")
    return value


def _optional_size(value: Any, path: str, hi: int) -> int | None:
    """`null` and `0` both mean "to the edge" (Twilio echoes either)."""
    if value is None:
        return None
    number = _int(value, path, lo=0, hi=hi)
    if 0 < number < MIN_REGION_SIDE:
        raise LayoutError(path, f"must be 0 (to the edge) or at least {MIN_REGION_SIDE}, got {number}")
    return number or None


def _optional_bound(value: Any, path: str) -> int | None:
    if value is None:
        return None
    number = _int(value, path, lo=0, hi=MAX_GRID_SIDE)
    return number or None


def parse_region(name: str, raw: Any, resolution: Resolution, root: str) -> RegionSpec:
    path = f"{root}.{name}"
    if not isinstance(raw, dict):
        raise LayoutError(path, "must be an object")
    for key in raw:
        if key not in _KNOWN:
            raise LayoutError(f"{path}.{key}", "is not a known region property")
    if "video_sources" not in raw:
        raise LayoutError(f"{path}.video_sources", "is required")
    sources = check_patterns(raw["video_sources"], f"{path}.video_sources")
    excluded = check_patterns(raw.get("video_sources_excluded"), f"{path}.video_sources_excluded")
    x_pos = _int(raw.get("x_pos", 0) or 0, f"{path}.x_pos", lo=0, hi=resolution.width - 1)
    y_pos = _int(raw.get("y_pos", 0) or 0, f"{path}.y_pos", lo=0, hi=resolution.height - 1)
    z_pos = _int(raw.get("z_pos", 0) or 0, f"{path}.z_pos", lo=Z_RANGE[0], hi=Z_RANGE[1])
    width = _optional_size(raw.get("width"), f"{path}.width", resolution.width)
    height = _optional_size(raw.get("height"), f"{path}.height", resolution.height)
    for axis, pos, limit in (("x_pos", x_pos, resolution.width), ("y_pos", y_pos, resolution.height)):
        if limit - pos < MIN_REGION_SIDE:
            raise LayoutError(
                f"{path}.{axis}", f"leaves less than {MIN_REGION_SIDE} pixels of the canvas, got {pos}"
            )
    cells = raw.get("cells_excluded")
    if cells is None:
        cells = []
    if not isinstance(cells, list):
        raise LayoutError(f"{path}.cells_excluded", "must be a list")
    cells = [_int(c, f"{path}.cells_excluded[{i}]", lo=0) for i, c in enumerate(cells)]
    reuse = raw.get("reuse", "show_oldest")
    if reuse is None:
        reuse = "show_oldest"
    if reuse not in REUSE_MODES:
        raise LayoutError(f"{path}.reuse", f"must be one of {', '.join(REUSE_MODES)}")
    active, hold, skip = _active_speaker(raw, path)
    return RegionSpec(
        name=name,
        video_sources=sources,
        video_sources_excluded=excluded,
        x_pos=x_pos,
        y_pos=y_pos,
        z_pos=z_pos,
        width=width,
        height=height,
        max_columns=_optional_bound(raw.get("max_columns"), f"{path}.max_columns"),
        max_rows=_optional_bound(raw.get("max_rows"), f"{path}.max_rows"),
        cells_excluded=sorted(set(cells)),
        reuse=reuse,
        active_speaker=active,
        active_speaker_hold=hold,
        active_speaker_skip=skip,
    )


def _active_speaker(raw: dict[str, Any], path: str) -> tuple[bool, float, int]:
    active = raw.get("active_speaker", False)
    if active is None:
        active = False
    if not isinstance(active, bool):
        raise LayoutError(f"{path}.active_speaker", "must be true or false")
    if not active:
        for key in ("active_speaker_hold", "active_speaker_skip"):
            if raw.get(key) is not None:
                raise LayoutError(f"{path}.{key}", "applies only to a region with active_speaker: true")
        return False, DEFAULT_HOLD, 0
    hold = raw.get("active_speaker_hold")
    if hold is None:
        hold = DEFAULT_HOLD
    if isinstance(hold, bool) or not isinstance(hold, (int, float)) or hold != hold:
        raise LayoutError(f"{path}.active_speaker_hold", "must be a number of seconds")
    if not 0 <= hold <= MAX_HOLD:
        raise LayoutError(
            f"{path}.active_speaker_hold", f"must be between 0 and {MAX_HOLD:g} seconds, got {hold:g}"
        )
    skip = raw.get("active_speaker_skip")
    skip = 0 if skip is None else _int(skip, f"{path}.active_speaker_skip", lo=0, hi=MAX_GRID_SIDE**2)
    return True, float(hold), skip


def parse_layout(raw: Any, resolution: Resolution, root: str = "video_layout") -> list[RegionSpec]:
    """Validate a `video_layout` (object or JSON text). `{}` or None is an audio-only layout."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise LayoutError(root, f"is not valid JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(raw, dict):
        raise LayoutError(root, "must be an object of named regions")
    regions = []
    for name, region in raw.items():
        if not isinstance(name, str) or not name.strip():
            raise LayoutError(root, "region names must be non-empty strings")
        regions.append(parse_region(name, region, resolution, root))
    return regions


def echo_layout(regions: list[RegionSpec]) -> dict[str, Any]:
    return {r.name: r.echo() for r in regions}
