"""Mixing audio sources without clipping."""

from __future__ import annotations

import numpy as np

# Peak level the limiter holds the mix under.
CEILING = 0.98
# Gain recovers by this factor per 1024 samples after a loud stretch (about 1.5 s to recover 6 dB).
RELEASE = 1.0 + 0.5 / 47


class Limiter:
    """Sum first, then lower the gain just enough: quiet mixes pass untouched, loud ones never clip."""

    def __init__(self) -> None:
        self.gain = 1.0

    def process(self, mix: np.ndarray) -> np.ndarray:
        if not len(mix):
            return mix
        peak = float(np.max(np.abs(mix)))
        target = min(1.0, CEILING / peak) if peak > 0 else 1.0
        released = min(1.0, self.gain * RELEASE ** (len(mix) / 1024))
        if target <= self.gain:
            # Attack at once for the whole block: no sample of it may exceed the ceiling.
            self.gain = target
            return mix * np.float32(target)
        new_gain = min(target, released)
        ramp = np.linspace(self.gain, new_gain, len(mix), dtype=np.float32)[:, None]
        self.gain = new_gain
        return mix if new_gain == 1.0 and ramp[0, 0] == 1.0 else mix * ramp


def mix(blocks: list[np.ndarray], count: int, channels: int) -> np.ndarray:
    out = np.zeros((count, channels), np.float32)
    for block in blocks:
        out += block
    return out
