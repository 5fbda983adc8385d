"""One audio recording, decoded and resampled on its own thread, read by room-time sample position."""

from __future__ import annotations

import queue
import threading
from collections import deque
from pathlib import Path

import av
import numpy as np

SAMPLE_RATE = 48_000
CHANNELS = 2
# A timestamp jump smaller than this is jitter and the samples stay contiguous;
# a larger one is a real gap (silence) or overlap (dropped).
JUMP_SAMPLES = SAMPLE_RATE // 50
QUEUE_CHUNKS = 32
_END = object()


class AudioSource:
    def __init__(self, sid: str, path: Path, start: float) -> None:
        self.sid = sid
        self.path = path
        self.start = start
        self.error: str | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._chunks: deque[tuple[int, np.ndarray]] = deque()
        self._done = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"audio-{sid}", daemon=True)

    def begin(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            resampler = av.AudioResampler(format="flt", layout="stereo", rate=SAMPLE_RATE)
            with av.open(str(self.path)) as container:
                stream = container.streams.audio[0]
                first: float | None = None
                position: int | None = None
                for frame in container.decode(stream):
                    if frame.time is not None:
                        if first is None:
                            first = frame.time
                        stamped = round((self.start + frame.time - first) * SAMPLE_RATE)
                        if position is None or abs(stamped - position) > JUMP_SAMPLES:
                            position = stamped
                    if position is None:
                        continue
                    for out in resampler.resample(frame):
                        pcm = out.to_ndarray().reshape(-1, CHANNELS)
                        if not self._put((position, pcm)):
                            return
                        position += len(pcm)
        except Exception as exc:  # a decode failure ends this track only
            self.error = f"decoding failed ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        finally:
            self._put(_END)

    def read(self, position: int, count: int) -> np.ndarray | None:
        """Samples [position, position + count) of the room timeline; None when all silent."""
        end = position + count
        while not self._done and (not self._chunks or self._chunks[-1][0] + len(self._chunks[-1][1]) < end):
            item = self._queue.get()
            if item is _END:
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
