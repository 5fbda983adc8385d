"""Measurements of composed files: streams, colours at points, flashes, beeps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from tests.synthetic_room import BEEP_HZ


@dataclass
class Streams:
    video_codec: str | None
    audio_codec: str | None
    width: int | None
    height: int | None
    duration: float


def streams(path: Path) -> Streams:
    with av.open(str(path)) as c:
        v = c.streams.video[0] if c.streams.video else None
        a = c.streams.audio[0] if c.streams.audio else None
        return Streams(
            v.codec_context.name if v else None,
            a.codec_context.name if a else None,
            v.codec_context.width if v else None,
            v.codec_context.height if v else None,
            (c.duration or 0) / 1e6,
        )


def video_frames(path: Path) -> list[tuple[float, np.ndarray]]:
    """Every decoded frame as (time, rgb array)."""
    with av.open(str(path)) as c:
        return [(float(f.time), f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]


def frame_at(frames: list[tuple[float, np.ndarray]], t: float) -> np.ndarray:
    best = frames[0][1]
    for ft, img in frames:
        if ft > t + 1e-6:
            break
        best = img
    return best


def colour(img: np.ndarray, x: int, y: int, r: int = 4) -> tuple[int, int, int]:
    patch = img[max(0, y - r) : y + r, max(0, x - r) : x + r].reshape(-1, 3)
    return tuple(int(v) for v in patch.mean(axis=0))


def close(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 28) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected))


def flash_onsets(frames: list[tuple[float, np.ndarray]], x: int, y: int) -> list[float]:
    """Times at which the point turns white."""
    onsets, white = [], False
    for t, img in frames:
        now = min(colour(img, x, y)) > 235
        if now and not white:
            onsets.append(t)
        white = now
    return onsets


def audio_samples(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        rate = stream.codec_context.sample_rate
        chunks, first = [], None
        for frame in c.decode(stream):
            if first is None:
                first = float(frame.time or 0.0)
            chunks.append(
                frame.to_ndarray().reshape(frame.layout.nb_channels if frame.format.is_planar else 1, -1)[0]
            )
        pcm = np.concatenate(chunks).astype(np.float32)
        # Leading silence stands for a stream that starts late.
        return np.concatenate([np.zeros(round(first * rate), np.float32), pcm]), rate


def beep_onsets(pcm: np.ndarray, rate: int, window: float = 0.0025) -> list[float]:
    """Times at which the beep tone starts: energy of the beep frequency per short window."""
    n = int(rate * window)
    frames = len(pcm) // n
    blocks = pcm[: frames * n].reshape(frames, n)
    t = np.arange(n) / rate
    probe = np.exp(-2j * np.pi * BEEP_HZ * t)
    level = np.abs(blocks @ probe) / n
    # A beep counts once it passes 0.1; it starts at the first window of that rise above 0.05
    # (a beep that begins mid-window gives a partial level first). Silence below 0.05 re-arms.
    onsets, armed, rise = [], True, None
    for i, value in enumerate(level):
        if value <= 0.05:
            armed, rise = True, None
            continue
        if rise is None:
            rise = i
        if armed and value > 0.1:
            onsets.append(rise * window)
            armed = False
    return onsets
