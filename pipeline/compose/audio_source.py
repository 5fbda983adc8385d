"""One audio recording, decoded and resampled on its own thread, read by room-time sample position."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import av
import numpy as np

from .reader_thread import END, ReaderThread
from .video_source import media_origin, seek_to

SAMPLE_RATE = 48_000
CHANNELS = 2
# A timestamp jump smaller than this is jitter and the samples stay contiguous;
# a larger one is a real gap (silence) or overlap (dropped).
JUMP_SAMPLES = SAMPLE_RATE // 50
QUEUE_CHUNKS = 32


class AudioSource(ReaderThread):
    def __init__(self, sid: str, path: Path, start: float, from_room_time: float = 0.0) -> None:
        self.sid = sid
        self.path = path
        self.start = start
        self.from_room_time = from_room_time
        super().__init__(f"audio-{sid}", QUEUE_CHUNKS)
        self._chunks: deque[tuple[int, np.ndarray]] = deque()
        self._done = False

    def produce(self) -> None:
        resampler = av.AudioResampler(format="flt", layout="stereo", rate=SAMPLE_RATE)
        with av.open(str(self.path)) as container:
            stream = container.streams.audio[0]
            first = media_origin(container, stream)
            seek_to(container, stream, self.from_room_time - self.start + first)
            position: int | None = None
            for frame in container.decode(stream):
                if frame.time is not None:
                    stamped = round((self.start + frame.time - first) * SAMPLE_RATE)
                    if position is None or abs(stamped - position) > JUMP_SAMPLES:
                        position = stamped
                if position is None:
                    continue
                for out in resampler.resample(frame):
                    pcm = out.to_ndarray().reshape(-1, CHANNELS)
                    if not self.put((position, pcm)):
                        return
                    position += len(pcm)

    def read(self, position: int, count: int) -> np.ndarray | None:
        """Samples [position, position + count) of the room timeline; None when all silent."""
        end = position + count
        while not self._done and (not self._chunks or self._chunks[-1][0] + len(self._chunks[-1][1]) < end):
            item = self.take()
            if item is END:
                self._done = True
                break
            self._chunks.append(item)
        while self._chunks and self._chunks[0][0] + len(self._chunks[0][1]) <= position:
            self._chunks.popleft()
        out: np.ndarray | None = None
        for start, pcm in self._chunks:
            if start >= end:
                break
            lo, hi = max(start, position), min(start + len(pcm), end)
            if lo >= hi:
                continue
            if out is None:
                out = np.zeros((count, CHANNELS), np.float32)
            out[lo - position : hi - position] += pcm[lo - start : hi - start]
        return out
