"""The composed file: container, encoders and their settings per output format."""

from __future__ import annotations

import queue
import threading
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .audio_source import CHANNELS, SAMPLE_RATE


@dataclass(frozen=True)
class FormatSettings:
    container: str
    video_codec: str
    audio_codec: str
    audio_bit_rate: int
    container_options: dict[str, str]


FORMATS = {
    "mp4": FormatSettings("mp4", "libx264", "aac", 128_000, {"movflags": "+faststart"}),
    "webm": FormatSettings("webm", "libvpx", "libopus", 96_000, {}),
}
X264_PRESET = "veryfast"
X264_CRF = 23


def video_options(fmt: str, width: int, height: int) -> tuple[dict[str, str], int]:
    """Encoder options and bit rate (0 = quality-driven)."""
    if fmt == "mp4":
        return {"preset": X264_PRESET, "crf": str(X264_CRF)}, 0
    # VP8 has no useful constant-quality mode at realtime speed: target about 2 bits per pixel-second.
    return {"deadline": "realtime", "cpu-used": "6", "crf": "10", "lag-in-frames": "0"}, max(
        300_000, int(width * height * 2.2)
    )


class OutputFile:
    def __init__(
        self, path: Path, fmt: str, width: int, height: int, fps: int, video: bool, audio: bool
    ) -> None:
        settings = FORMATS[fmt]
        self.container = av.open(
            str(path), "w", format=settings.container, options=settings.container_options
        )
        self.video = None
        self.audio = None
        self.fps = fps
        if video:
            stream = self.container.add_stream(settings.video_codec, rate=fps)
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p"
            options, bit_rate = video_options(fmt, width, height)
            stream.codec_context.options = options
            if bit_rate:
                stream.codec_context.bit_rate = bit_rate
            stream.codec_context.thread_type = "AUTO"
            self.video = stream
        if audio:
            stream = self.container.add_stream(settings.audio_codec, rate=SAMPLE_RATE, layout="stereo")
            stream.codec_context.bit_rate = settings.audio_bit_rate
            self.audio = stream
            self._frame_size = 0
            self._pending = np.zeros((0, CHANNELS), np.float32)
            self._audio_pts = 0
            # The audio encoder runs on a thread of its own, beside x264 (AAC costs about a sixth
            # of the main thread's time otherwise); its packets are muxed from this thread.
            self._audio_jobs: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=64)
            self._audio_packets: deque[av.Packet] = deque()
            self._audio_error: BaseException | None = None
            self._audio_thread = threading.Thread(
                target=self._audio_worker, name="audio-encoder", daemon=True
            )
            self._audio_thread.start()

    def add_video(self, frame: av.VideoFrame, index: int) -> None:
        frame.pts = index
        frame.time_base = Fraction(1, self.fps)
        self.container.mux(self.video.encode(frame))
        self._mux_audio()

    def _mux_audio(self) -> None:
        if self.audio is None:
            return
        if self._audio_error is not None:
            raise self._audio_error
        while self._audio_packets:
            self.container.mux(self._audio_packets.popleft())

    def _audio_worker(self) -> None:
        try:
            while (pcm := self._audio_jobs.get()) is not None:
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(pcm.T), format="fltp", layout="stereo"
                )
                frame.sample_rate = SAMPLE_RATE
                frame.pts = self._audio_pts
                frame.time_base = Fraction(1, SAMPLE_RATE)
                self._audio_pts += len(pcm)
                self._audio_packets.extend(self.audio.encode(frame))
            self._audio_packets.extend(self.audio.encode(None))
        except BaseException as exc:  # reported on the main thread at its next mux
            self._audio_error = exc

    def _encode_audio(self, pcm: np.ndarray | None) -> None:
        """Hands `pcm` (None: the end) to the audio thread; never waits on a thread that died."""
        while True:
            if self._audio_error is not None:
                raise self._audio_error
            if not self._audio_thread.is_alive():
                raise RuntimeError("the audio encoder stopped")
            try:
                self._audio_jobs.put(pcm, timeout=0.5)
                return
            except queue.Full:
                continue

    def add_audio(self, pcm: np.ndarray) -> None:
        if not self._frame_size:
            self._frame_size = self.audio.codec_context.frame_size or 1024
        self._pending = np.concatenate([self._pending, pcm]) if len(self._pending) else pcm
        size = self._frame_size
        whole = len(self._pending) // size * size
        for offset in range(0, whole, size):
            self._encode_audio(self._pending[offset : offset + size].copy())
        self._pending = self._pending[whole:]
        if self.video is None:
            self._mux_audio()

    def close(self) -> None:
        try:
            if self.audio is not None:
                if len(self._pending):
                    size = self._frame_size or len(self._pending)
                    padded = np.zeros((size, CHANNELS), np.float32)
                    padded[: len(self._pending)] = self._pending
                    self._encode_audio(padded)
                self._encode_audio(None)
                self._audio_thread.join()
                self._mux_audio()
            if self.video is not None:
                self.container.mux(self.video.encode(None))
        finally:
            self.container.close()
