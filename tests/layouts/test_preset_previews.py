"""docs/layouts.md shows every preset, and its picture is what the preset draws today."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from layouts.presets import preset_names

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import preset_previews  # noqa: E402


def test_every_preset_is_pictured_in_the_layout_guide_as_it_draws_now(tmp_path):
    guide = (ROOT / "docs" / "layouts.md").read_text()
    for name in preset_names():
        committed = ROOT / "docs" / "layouts" / f"{name}.png"
        assert f"](layouts/{name}.png)" in guide, f"docs/layouts.md does not show {name}"
        fresh = np.asarray(Image.open(preset_previews.draw(name, tmp_path / f"{name}.png")).convert("RGB"))
        old = np.asarray(Image.open(committed).convert("RGB"))
        assert old.shape == fresh.shape == (360, 640, 3)
        # Labels may render differently with another Pillow; the boxes and colours may not.
        differing = np.any(np.abs(old.astype(int) - fresh.astype(int)) > 8, axis=2).mean()
        assert differing < 0.02, f"docs/layouts/{name}.png is out of date: run scripts/preset_previews.py"
