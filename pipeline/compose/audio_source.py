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
QUEUE_CHUNKS = 8
BATCH_SAMPLES = SAMPLE_RATE // 5  # 200 ms


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
            # Samples gathered into one chunk of about BATCH_SAMPLES before they are queued:
            # a queue hand-off per 20 ms Opus frame, from a dozen readers, kept the compositor's
            # thread waiting for the GIL.
            batch: list[np.ndarray] = []
            batch_at = 0
            batched = 0
            for frame in container.decode(stream):
                if frame.time is not None:
                    stamped = round((self.start + frame.time - first) * SAMPLE_RATE)
                    if position is None or abs(stamped - position) > JUMP_SAMPLES:
                        if batch and not self.put((batch_at, np.concatenate(batch))):
                            return
                        batch, batched = [], 0
                        position = stamped
                if position is None:
                    continue
                for out in resampler.resample(frame):
                    pcm = out.to_ndarray().reshape(-1, CHANNELS)
                    if not batch:
                        batch_at = position
                    batch.append(pcm)
                    batched += len(pcm)
                    position += len(pcm)
                if batched >= BATCH_SAMPLES:
                    if not self.put((batch_at, np.concatenate(batch))):
                        return
                    batch, batched = [], 0
            if batch:
                self.put((batch_at, np.concatenate(batch)))

    def read(self, position: int, count: int) -> np.ndarray | None:
        """Samples [position, position + count) of the room timeline; None when all silent."""
        out = np.zeros((count, CHANNELS), np.float32)
        return out if self.add_into(out, position) else None

    def add_into(self, out: np.ndarray, position: int) -> bool:
        """Adds samples [position, position + len(out)) of the room timeline into `out` (the mix
        of one tick, so no source allocates a block of its own); False when it had none."""
        count = len(out)
        end = position + count
        while not self._done and (not self._chunks or self._chunks[-1][0] + len(self._chunks[-1][1]) < end):
            item = self.take()
            if item is END:
                self._done = True
                break
            self._chunks.append(item)
        while self._chunks and self._chunks[0][0] + len(self._chunks[0][1]) <= position:
            self._chunks.popleft()
        added = False
        for start, pcm in self._chunks:
            if start >= end:
                break
            lo, hi = max(start, position), min(start + len(pcm), end)
            if lo >= hi:
                continue
            out[lo - position : hi - position] += pcm[lo - start : hi - start]
            added = True
        return added
