"""Validation shared by Compositions and CompositionHooks: layout, sources, resolution, format."""

from __future__ import annotations

from typing import Any

import layouts
from layouts.presets import expand_preset, is_preset

from .errors import invalid
from .params import Params

FORMATS = ("mp4", "webm")
DEFAULT_FORMAT = "webm"  # Twilio's default


def read_spec(params: Params, defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validated fields, with Twilio's defaults; `defaults` fills what an update leaves out."""
    defaults = defaults or {}
    try:
        resolution = layouts.parse_resolution(
            params.str("Resolution", defaults.get("resolution")), "Resolution"
        )
    except layouts.LayoutError as exc:
        raise invalid(exc.field, exc.reason) from None
    layout: Any = None
    if "VideoLayout" in params:
        text = params.str("VideoLayout", max_len=100_000) or ""
        layout = expand_preset(text.strip(), resolution) if text.strip() and is_preset(text.strip()) else None
        if layout is None:
            layout = params.json("VideoLayout", "VideoLayout")
    try:
        regions = layouts.parse_layout(layout, resolution, root="VideoLayout")
    except layouts.LayoutError as exc:
        raise invalid(exc.field, exc.reason) from None
    audio = params.list("AudioSources")
    excluded = params.list("AudioSourcesExcluded") or []
    for name, values in (("AudioSources", audio or []), ("AudioSourcesExcluded", excluded)):
        for i, value in enumerate(values):
            if not value.strip():
                # Caught here rather than as a composition that fails once it runs.
                raise invalid(f"{name}[{i}]", "must be a track name, a SID or a pattern, not empty")
    return {
        "video_layout": layouts.echo_layout(regions),
        "audio_sources": audio or [],
        "audio_sources_excluded": excluded,
        "resolution": str(resolution),
        "format": params.str("Format", defaults.get("format", DEFAULT_FORMAT), choices=FORMATS),
        "trim": params.bool("Trim", defaults.get("trim", True)),
        "status_callback": params.callback(),
        "status_callback_method": params.str("StatusCallbackMethod", "POST", choices=("GET", "POST")),
    }


def require_media(spec: dict[str, Any]) -> None:
    if not spec["video_layout"] and not spec["audio_sources"]:
        raise invalid(
            "VideoLayout", "or AudioSources must be given: a composition needs video, audio or both"
        )
