"""One audio recording, decoded and resampled on demand, read by room-time sample position.

Every audio source of a composition is read by the one audio thread (audio_mixdown.py), so a
source is a plain decoder pulled by `add_into`, not a thread of its own.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from .video_source import media_origin, seek_to

SAMPLE_RATE = 48_000
CHANNELS = 2
# A timestamp jump smaller than this is jitter and the samples stay contiguous;
# a larger one is a real gap (silence) or overlap (dropped).
JUMP_SAMPLES = SAMPLE_RATE // 50
# FFmpeg's gain for a mono channel spread to both sides (its resampler's centre mix level): the
# mono fast path must give the samples the resampler gives, bit for bit.
MONO_TO_STEREO = np.float32(np.sqrt(0.5))


def direct_samples(frame: av.AudioFrame) -> np.ndarray | None:
    """The frame as (samples, 1 or 2 channels) float32 when no resampling is needed (Opus decodes
    to 48 kHz planar float): a mono column is added into both channels of the mix. FFmpeg's
    resampler costs several times the decoding per 20 ms frame from Python. None: resample."""
    if frame.format.name != "fltp" or frame.sample_rate != SAMPLE_RATE:
        return None
    # Plane views rather than to_ndarray, whose per-frame vstack cost as much as the decoding.
    samples = frame.samples
    if frame.layout.name == "mono":
        return (np.frombuffer(frame.planes[0], np.float32, samples) * MONO_TO_STEREO)[:, None]
    if frame.layout.name == "stereo":
        left, right = (np.frombuffer(plane, np.float32, samples) for plane in frame.planes[:2])
        return np.stack((left, right), axis=1)
    return None


class AudioSource:
    def __init__(self, sid: str, path: Path, start: float, from_room_time: float = 0.0) -> None:
        self.sid = sid
        self.path = path
        self.start = start
        self.from_room_time = from_room_time
        self.error: str | None = None
        self._chunks: deque[tuple[int, np.ndarray]] = deque()
        self._decoded: Iterator[tuple[int, np.ndarray]] | None = None
        self._done = False

    def _decode(self) -> Iterator[tuple[int, np.ndarray]]:
        """(room sample position, stereo float samples) as the track decodes."""
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
                direct = direct_samples(frame)
                if direct is not None:
                    yield position, direct
                    position += len(direct)
                    continue
                for out in resampler.resample(frame):
                    pcm = out.to_ndarray().reshape(-1, CHANNELS)
                    yield position, pcm
                    position += len(pcm)

    def _next_chunk(self) -> bool:
        """Decodes one more chunk; False at the end of the track or on a decode failure (`error`)."""
        if self._decoded is None:
            self._decoded = self._decode()
        try:
            self._chunks.append(next(self._decoded))
            return True
        except StopIteration:
            pass
        except Exception as exc:  # a decode failure ends this track only
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.error = f"decoding failed ({text})"
        self._done = True
        return False

    def add_into(self, out: np.ndarray, position: int) -> bool:
        """Adds samples [position, position + len(out)) of the room timeline into `out` (the mix
        of one tick, so no source allocates a block of its own); False when it had none."""
        end = position + len(out)
        while not self._done and (not self._chunks or self._chunks[-1][0] + len(self._chunks[-1][1]) < end):
            self._next_chunk()
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

    def close(self) -> None:
        if self._decoded is not None:
            self._decoded.close()  # leaves the `with av.open` block: the file is closed
