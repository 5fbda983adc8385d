"""Draw a plan at one instant: labelled boxes in each source's colour (no media decoded)."""

from __future__ import annotations

import colorsys
import hashlib
from pathlib import Path

from PIL import Image, ImageDraw

from layouts import Plan


def source_colour(sid: str) -> tuple[int, int, int]:
    hue = int(hashlib.md5(sid.encode()).hexdigest()[:4], 16) / 0xFFFF
    r, g, b = colorsys.hsv_to_rgb(hue, 0.6, 0.85)
    return int(r * 255), int(g * 255), int(b * 255)


def draw_preview(plan: Plan, at: float, out: Path | str, names: dict[str, str] | None = None) -> Path:
    names = names or {}
    image = Image.new("RGB", (plan.width, plan.height), "black")
    draw = ImageDraw.Draw(image)
    seg = plan.segment_at(min(max(at, 0.0), max(plan.duration - 1e-6, 0.0)))
    for tile in seg.tiles if seg else []:
        box = (tile.x, tile.y, tile.x + tile.width - 1, tile.y + tile.height - 1)
        draw.rectangle(box, fill=source_colour(tile.source), outline="white", width=2)
        label = f"{names.get(tile.source, tile.source)}\n{tile.region} cell {tile.cell} z {tile.z}"
        draw.multiline_text((tile.x + 6, tile.y + 6), label, fill="white")
    draw.text((6, plan.height - 16), f"t={at:.2f}s of {plan.duration:.2f}s", fill="white")
    out = Path(out)
    image.save(out)
    return out
