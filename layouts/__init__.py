"""The layout language: Twilio `video_layout` regions, grids, reuse and trim, turned into a plan.

Pure Python: no media, database or network.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import LayoutError
from .plan import AudioSpan, NothingSelected, Plan, Segment, Tile, build_plan
from .presets import expand_preset, is_preset, preset_names
from .resolution import Resolution, parse_resolution
from .sources import Source, sources_from_manifest
from .spec import RegionSpec, echo_layout, parse_layout

__all__ = [
    "AudioSpan",
    "LayoutError",
    "NothingSelected",
    "Plan",
    "RegionSpec",
    "Resolution",
    "Segment",
    "Source",
    "Tile",
    "build_plan",
    "echo_layout",
    "load_layout",
    "parse_layout",
    "parse_resolution",
    "plan_for_manifest",
    "preset_names",
    "sources_from_manifest",
    "uses_active_speaker",
]


def load_layout(value: Any, resolution: Resolution) -> list[RegionSpec]:
    """Regions from a dict, JSON text, a JSON file path or a preset name (`NAME[:key=value]`)."""
    if isinstance(value, str):
        text = value.strip()
        if text and not text.startswith("{") and is_preset(text):
            value = expand_preset(text, resolution)
        elif text and not text.startswith("{"):
            path = Path(text)
            if not path.is_file():
                raise LayoutError(
                    "video_layout",
                    f"is neither JSON, a file nor a preset ({', '.join(preset_names())}): {text!r}",
                )
            try:
                value = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise LayoutError("video_layout", f"file {text} is not valid JSON: {exc.msg}") from None
    return parse_layout(value, resolution)


def plan_for_manifest(
    manifest: dict[str, Any],
    layout: Any,
    resolution: str | None = None,
    audio_sources: Sequence[str] = (),
    audio_sources_excluded: Sequence[str] = (),
    trim: bool = True,
    speech: Mapping[str, Sequence[tuple[float, float]]] | None = None,
) -> Plan:
    """`speech`: per participant SID, the room-time intervals they spoke in, for regions with
    `active_speaker` (see build_plan)."""
    res = parse_resolution(resolution)
    regions = load_layout(layout, res)
    return build_plan(
        regions,
        sources_from_manifest(manifest),
        res,
        audio_sources,
        audio_sources_excluded,
        trim=trim,
        room_duration=manifest_duration(manifest),
        speech=speech,
    )


def uses_active_speaker(regions: Sequence[RegionSpec]) -> bool:
    """Whether planning these regions needs the room's speech (so its audio levels)."""
    return any(r.active_speaker for r in regions)


def manifest_duration(manifest: dict[str, Any]) -> float | None:
    """Room length from created_at/ended_at, when the manifest has both."""
    from datetime import datetime

    try:
        created = datetime.fromisoformat(str(manifest["created_at"]).replace("Z", "+00:00"))
        ended = datetime.fromisoformat(str(manifest["ended_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError, TypeError):
        return None
    return max(0.0, (ended - created).total_seconds())
