"""Live synthetic media for bots: a solid colour with white flashes, a tone with beeps at the
same instants, both paced from one clock so the flash-to-beep offset is exactly zero at capture."""

from __future__ import annotations

import asyncio
import math
import time
from fractions import Fraction

import av
import numpy as np
from aiortc.mediastreams import MediaStreamTrack

from pipeline.media.synthetic import BEEP_HZ, BEEP_SECONDS, SAMPLE_RATE

VIDEO_CLOCK = 90_000
AUDIO_FRAME = 960  # 20 ms at 48 kHz


class MediaClock:
    """The shared origin of a bot's tracks; flashes are at these offsets from it."""

    def __init__(self, flash_every: float = 2.0, flash_first: float = 1.0) -> None:
        self.origin = time.time()
        self.flash_every = flash_every
        self.flash_first = flash_first

    def elapsed(self) -> float:
        return max(0.0, time.time() - self.origin)

    def flashing(self, t: float) -> bool:
        if t < self.flash_first or self.flash_every <= 0:
            return False
        return (t - self.flash_first) % self.flash_every < BEEP_SECONDS

    def flash_times(self, until: float) -> list[float]:
        times, t = [], self.flash_first
        while t < until:
            times.append(self.origin + t)
            t += self.flash_every
        return times

    async def sleep_until(self, t: float) -> None:
        delay = self.origin + t - time.time()
        if delay > 0:
            await asyncio.sleep(delay)


class ColourVideoTrack(MediaStreamTrack):
    kind = "video"

    def __init__(
        self,
        colour: tuple[int, int, int],
        clock: MediaClock,
        size: tuple[int, int] = (320, 240),
        fps: int = 15,
    ) -> None:
        super().__init__()
        self.clock = clock
        self.fps = fps
        # A camera started on a running clock captures from now on, not from the clock's origin.
        self._index = math.ceil(clock.elapsed() * fps)
        plain = np.empty((size[1], size[0], 3), np.uint8)
        plain[:] = colour
        white = np.full_like(plain, 255)
        self._plain = av.VideoFrame.from_ndarray(plain, format="rgb24").reformat(format="yuv420p")
        self._white = av.VideoFrame.from_ndarray(white, format="rgb24").reformat(format="yuv420p")

    async def recv(self) -> av.VideoFrame:
        t = self._index / self.fps
        await self.clock.sleep_until(t)
        source = self._white if self.clock.flashing(t) else self._plain
        frame = av.VideoFrame.from_ndarray(source.to_ndarray(), format="yuv420p")
        frame.pts = round(t * VIDEO_CLOCK)
        frame.time_base = Fraction(1, VIDEO_CLOCK)
        self._index += 1
        return frame


class ToneAudioTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(
        self, tone_hz: float, clock: MediaClock, talks: list[tuple[float, float]] | None = None
    ) -> None:
        """`talks`: (start, end) seconds of the clock when the tone sounds, silence between them
        (a participant talking in turns); None sounds it all the time."""
        super().__init__()
        self.tone_hz = tone_hz
        self.clock = clock
        self.talks = talks
        self._sample = math.ceil(clock.elapsed() * SAMPLE_RATE / AUDIO_FRAME) * AUDIO_FRAME

    async def recv(self) -> av.AudioFrame:
        start = self._sample / SAMPLE_RATE
        await self.clock.sleep_until(start)
        t = start + np.arange(AUDIO_FRAME) / SAMPLE_RATE
        signal = 0.1 * np.sin(2 * np.pi * self.tone_hz * t)
        c = self.clock
        beep = (
            (t >= c.flash_first) & ((t - c.flash_first) % c.flash_every < BEEP_SECONDS)
            if c.flash_every > 0
            else t < 0
        )
        signal = np.where(beep, signal + 0.5 * np.sin(2 * np.pi * BEEP_HZ * t), signal)
        if self.talks is not None:
            talking = np.zeros_like(t, dtype=bool)
            for begin, end in self.talks:
                talking |= (t >= begin) & (t < end)
            signal = np.where(talking, signal, 0.0)
        pcm = (signal * 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._sample
        frame.time_base = Fraction(1, SAMPLE_RATE)
        self._sample += AUDIO_FRAME
        return frame
