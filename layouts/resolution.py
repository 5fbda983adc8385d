"""Output resolution: Twilio's limits plus the documented 1080p extension."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import LayoutError

DEFAULT_RESOLUTION = "640x480"
MIN_SIDE = 16
MAX_SIDE = 1280
MAX_PIXELS = 921_600
# Twilio's own examples echo 1920x1080 although its limits forbid it; users ask for it.
EXTENDED = {(1920, 1080), (1080, 1920)}

_PATTERN = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


@dataclass(frozen=True)
class Resolution:
    width: int
    height: int

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


def parse_resolution(value: str | None, field: str = "resolution") -> Resolution:
    if value is None or value == "":
        value = DEFAULT_RESOLUTION
    if not isinstance(value, str):
        raise LayoutError(field, "must be a string like 1280x720")
    match = _PATTERN.match(value)
    if not match:
        raise LayoutError(field, f"must look like 1280x720, got {value!r}")
    width, height = int(match.group(1)), int(match.group(2))
    if (width, height) not in EXTENDED:
        if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
            raise LayoutError(
                field,
                f"sides must be between {MIN_SIDE} and {MAX_SIDE} pixels (or exactly 1920x1080 or "
                f"1080x1920), got {value}",
            )
        if width * height > MAX_PIXELS:
            raise LayoutError(field, f"must have at most {MAX_PIXELS} pixels, got {value}")
    if width % 2 or height % 2:
        # yuv420p, which every player decodes, needs even sides.
        raise LayoutError(field, f"sides must be even numbers, got {value}")
    return Resolution(width, height)
