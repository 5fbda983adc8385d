"""Level timelines computed from decoded audio, for recordings that have no levels file.

An imported Twilio recording or a room recorded before the SFU read RFC 6464 levels has no
`{RecordingSid}.levels.json`; this decodes the audio with PyAV and produces the same timeline:
one value per 1/RATE s of the recording, -20*log10(rms) of its float samples in [-1, 1] (all
channels), rounded and clamped to 0..127, so a full-scale sine is 3 and digital silence 127.
Missing samples (a gap in the timestamps) count as silence. Memory is one float per slot.

The result is computed once per track and cached: beside the media in a room directory
(`levels_in_room_dir`), in storage at `levels_key` for composition jobs (pipeline/jobs/compose.py).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import av
import numpy as np

from .levels import RATE, SILENCE, LevelsError, LevelTimeline, levels_name

log = logging.getLogger("roomreel.levels")

# A timestamp this close to where the previous frame ended continues it (encoder jitter).
JITTER = 0.02


class _Slots:
    """Sums of squared samples per slot, in an array that doubles as it grows."""

    def __init__(self) -> None:
        self.sums = np.zeros(1024)
        self.used = 0

    def add(self, index: np.ndarray, squares: np.ndarray) -> None:
        if not len(index):
            return
        first, last = int(index[0]), int(index[-1])
        if last >= len(self.sums):
            grown = np.zeros(max(last + 1, 2 * len(self.sums)))
            grown[: len(self.sums)] = self.sums
            self.sums = grown
        self.sums[first : last + 1] += np.bincount(index - first, weights=squares)
        self.used = max(self.used, last + 1)


def _samples(frame: av.AudioFrame) -> np.ndarray:
    """(samples, channels) floats in [-1, 1]."""
    data = frame.to_ndarray()
    channels = max(1, len(frame.layout.channels))
    if frame.format.is_planar:
        data = data.T
    else:
        data = data.reshape(-1, channels)
    if data.dtype.kind == "f":
        return data.astype(np.float64, copy=False)
    if data.dtype == np.uint8:
        return (data.astype(np.float64) - 128.0) / 128.0
    return data.astype(np.float64) / float(np.iinfo(data.dtype).max + 1)


def measure(path: Path | str, rate: int = RATE) -> LevelTimeline:
    """The level timeline of the first audio stream of `path`; raises LevelsError if unreadable."""
    slots = _Slots()
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise LevelsError(f"{Path(path).name} has no audio stream")
            stream = container.streams.audio[0]
            first: float | None = None
            position = 0.0  # seconds since the first sample, where the next frame should start
            for frame in container.decode(stream):
                if not frame.samples or not frame.sample_rate:
                    continue
                at = position
                if frame.pts is not None and frame.time_base is not None:
                    t = float(frame.pts * frame.time_base)
                    if first is None:
                        first = t
                    stamped = t - first
                    if abs(stamped - position) > JITTER:
                        at = stamped  # a real gap (silence) or overlap
                squares = np.mean(np.square(_samples(frame)), axis=1)
                times = at + np.arange(len(squares)) / frame.sample_rate
                keep = times >= 0
                index = np.floor(times[keep] * rate).astype(np.int64)
                # Weighted per sample so that any sample rate fills a slot with one slot's worth.
                slots.add(index, squares[keep] * rate / frame.sample_rate)
                position = at + len(squares) / frame.sample_rate
    except av.FFmpegError as exc:
        raise LevelsError(f"cannot decode {Path(path).name}: {exc}") from None
    means = slots.sums[: slots.used]
    values = tuple(_level(float(m)) for m in means)
    return LevelTimeline(rate, values, "decoded")


def _level(mean_square: float) -> int:
    if mean_square <= 0:
        return SILENCE
    return int(min(SILENCE, max(0, round(-10 * math.log10(mean_square)))))


def audio_recordings(recordings: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in recordings if r.get("kind") == "audio"]


def levels_in_room_dir(directory: Path, recordings: Iterable[Mapping[str, Any]]) -> dict[str, LevelTimeline]:
    """Each audio recording's levels: its `.levels.json` beside the media, or computed from the
    media and written there for next time. A recording whose media cannot be read is left out
    (the composition's own probe reports it)."""
    found: dict[str, LevelTimeline] = {}
    for rec in audio_recordings(recordings):
        sid = str(rec["sid"])
        cached = directory / levels_name(sid)
        if cached.is_file():
            try:
                found[sid] = LevelTimeline.load(cached)
                continue
            except (LevelsError, OSError) as exc:
                log.warning("recording %s: levels file unreadable (%s); computing it again", sid, exc)
        try:
            found[sid] = measure(directory / str(rec["media"]))
        except (LevelsError, OSError) as exc:
            log.warning("recording %s: no levels: %s", sid, exc)
            continue
        try:
            found[sid].save(cached)
        except OSError as exc:  # a read-only room directory: use it, cache nothing
            log.warning("recording %s: levels not cached in %s: %s", sid, directory, exc)
    return found
