"""The composed file: container, encoders and their settings per output format."""

from __future__ import annotations

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


class AudioEncoder:
    """Cuts the mix into the encoder's frame size and encodes it; used by the audio thread."""

    def __init__(self, stream: av.audio.stream.AudioStream) -> None:
        self.stream = stream
        self._frame_size = 0
        self._pending = np.zeros((0, CHANNELS), np.float32)
        self._pts = 0

    def _encode_frame(self, pcm: np.ndarray) -> list[av.Packet]:
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm.T), format="fltp", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = Fraction(1, SAMPLE_RATE)
        self._pts += len(pcm)
        return self.stream.encode(frame)

    def encode(self, pcm: np.ndarray) -> list[av.Packet]:
        if not self._frame_size:
            self._frame_size = self.stream.codec_context.frame_size or 1024
        self._pending = np.concatenate([self._pending, pcm]) if len(self._pending) else pcm
        size = self._frame_size
        whole = len(self._pending) // size * size
        packets: list[av.Packet] = []
        for offset in range(0, whole, size):
            packets.extend(self._encode_frame(self._pending[offset : offset + size]))
        self._pending = self._pending[whole:]
        return packets

    def finish(self) -> list[av.Packet]:
        """The last partial frame, padded with silence, and the encoder's delayed packets."""
        packets: list[av.Packet] = []
        if len(self._pending):
            padded = np.zeros((self._frame_size or len(self._pending), CHANNELS), np.float32)
            padded[: len(self._pending)] = self._pending
            packets.extend(self._encode_frame(padded))
        packets.extend(self.stream.encode(None))
        return packets


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

    def audio_encoder(self) -> AudioEncoder:
        assert self.audio is not None
        return AudioEncoder(self.audio)

    def add_video(self, frame: av.VideoFrame, index: int) -> None:
        frame.pts = index
        frame.time_base = Fraction(1, self.fps)
        self.container.mux(self.video.encode(frame))

    def mux(self, packets: list[av.Packet]) -> None:
        """Packets of either stream, encoded on whichever thread; muxing stays on this one."""
        self.container.mux(packets)

    def close(self) -> None:
        try:
            if self.video is not None:
                self.container.mux(self.video.encode(None))
        finally:
            self.container.close()
