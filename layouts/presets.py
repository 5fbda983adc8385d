"""Named layouts. A preset is a Twilio `video_layout` whose float geometry is a share of the canvas."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from .errors import LayoutError
from .resolution import Resolution

PRESET_DIR = Path(__file__).parent / "presets"
_HORIZONTAL = {"x_pos", "width"}
_VERTICAL = {"y_pos", "height"}


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.json"))


@cache
def _read(name: str) -> dict[str, Any]:
    return json.loads((PRESET_DIR / f"{name}.json").read_text())


def describe(name: str) -> str:
    return _read(name)["description"]


def _split(reference: str) -> tuple[str, dict[str, str]]:
    """`presentation:main=teacher-screen` -> ("presentation", {"main": "teacher-screen"})."""
    name, _, rest = reference.partition(":")
    params: dict[str, str] = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise LayoutError("video_layout", f"preset parameter {item!r} must look like key=value")
        params[key.strip()] = value.strip()
    return name.strip(), params


def is_preset(reference: str) -> bool:
    text = reference.strip()
    if not text or text[0] in '{["':
        return False
    return text.partition(":")[0].strip() in preset_names()


def _scale(key: str, value: Any, res: Resolution) -> Any:
    if isinstance(value, float):
        if key in _HORIZONTAL:
            return int(round(value * res.width / 2) * 2)
        if key in _VERTICAL:
            return int(round(value * res.height / 2) * 2)
    return value


def _fill(value: Any, params: dict[str, str]) -> Any:
    if isinstance(value, list):
        return [_fill(v, params) for v in value]
    if isinstance(value, str):
        return value.format(**params)
    return value


def expand_preset(reference: str, resolution: Resolution) -> dict[str, Any]:
    """The concrete `video_layout` of a preset at this resolution."""
    name, given = _split(reference)
    if name not in preset_names():
        raise LayoutError("video_layout", f"names no preset {name!r} (known: {', '.join(preset_names())})")
    preset = _read(name)
    params = dict(preset.get("params", {}))
    unknown = set(given) - set(params)
    if unknown:
        raise LayoutError("video_layout", f"preset {name} has no parameter {sorted(unknown)[0]!r}")
    params.update(given)
    return {
        region: {key: _fill(_scale(key, value, resolution), params) for key, value in body.items()}
        for region, body in preset["layout"].items()
    }
