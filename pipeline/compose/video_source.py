"""One video recording, decoded and scaled to its tile sizes on a thread of its own.

Decoding and scaling run in FFmpeg with the GIL released, so several readers and the
encoder share the cores. Frames are scaled only when they will be on screen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .reader_thread import END, ReaderThread
from .timeline import IntervalSet

QUEUE_FRAMES = 8


def fit(width: int, height: int, cell_w: int, cell_h: int) -> tuple[int, int]:
    """The largest even size with the frame's aspect that fits in the cell."""
    scale = min(cell_w / width, cell_h / height)
    return max(2, int(width * scale) & ~1), max(2, int(height * scale) & ~1)


@dataclass
class Picture:
    """A scaled frame as yuv420p plane views; `frame` keeps their memory alive."""

    frame: av.VideoFrame
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray

    @classmethod
    def of(cls, frame: av.VideoFrame) -> Picture:
        w, h = frame.width, frame.height
        planes = []
        for i, (pw, ph) in enumerate(((w, h), (w // 2, h // 2), (w // 2, h // 2))):
            plane = frame.planes[i]
            rows = np.frombuffer(plane, np.uint8)[: plane.line_size * ph]
            planes.append(rows.reshape(ph, plane.line_size)[:, :pw])
        return cls(frame, *planes)


# 8-bit planar formats, where a plane's row holds one byte a pixel (what the decoders here give;
# other formats are simply scaled every time).
BYTE_PLANAR = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "gray"})
# Every this many rows and columns, a sample compared first: a changed frame is told apart cheaply.
SAMPLE_STEP = 16


def _visible(plane: av.video.plane.VideoPlane) -> np.ndarray:
    """The plane's pixels without the row padding."""
    rows = np.frombuffer(plane, np.uint8)[: plane.line_size * plane.height]
    return rows.reshape(plane.height, plane.line_size)[:, : plane.width]


def _pixels(plane: av.video.plane.VideoPlane) -> np.ndarray:
    """The plane's pixels for comparing: an unpadded plane as one run of 8-byte words, which
    compares in half the time of its bytes (measured 57 against 135 us for a 640x480 frame)."""
    size = plane.width * plane.height
    if plane.line_size == plane.width and size % 8 == 0:
        return np.frombuffer(plane, np.uint64, size // 8)
    return _visible(plane)


def same_picture(a: av.VideoFrame, b: av.VideoFrame) -> bool:
    """Whether two decoded frames hold the same pixels. Static cameras, flat colours and slides
    decode to identical frames most of the time; scaling and pasting those again is waste."""
    shape = (a.width, a.height, a.format.name)
    if shape != (b.width, b.height, b.format.name) or shape[2] not in BYTE_PLANAR:
        return False
    first_a, first_b = _visible(a.planes[0]), _visible(b.planes[0])
    if not np.array_equal(first_a[::SAMPLE_STEP, ::SAMPLE_STEP], first_b[::SAMPLE_STEP, ::SAMPLE_STEP]):
        return False
    return all(np.array_equal(_pixels(pa), _pixels(pb)) for pa, pb in zip(a.planes, b.planes))


# Seeking pays off only past this much media; WebRTC keyframes can be sparse.
SEEK_MIN_SECONDS = 5.0


def media_origin(container: av.container.InputContainer, stream: av.stream.Stream) -> float:
    """Media time of the track's first packet: the zero of its room-timeline placement."""
    if stream.start_time is not None and stream.time_base is not None:
        return float(stream.start_time * stream.time_base)
    for packet in container.demux(stream):
        if packet.pts is not None:
            origin = float(packet.pts * packet.time_base)
            container.seek(0)
            return origin
    return 0.0


def seek_to(container: av.container.InputContainer, stream: av.stream.Stream, media_time: float) -> None:
    """Jump to the keyframe before `media_time` when that skips enough decoding (split windows)."""
    if media_time < SEEK_MIN_SECONDS or stream.time_base is None:
        return
    try:
        container.seek(int(media_time / stream.time_base), stream=stream, backward=True)
    except av.FFmpegError:
        container.seek(0)


class Scaler:
    """Scales frames to fit one cell size with FFmpeg's scale filter.

    A filter graph, unlike `VideoFrame.reformat`, lets other threads run while it scales
    and is several times faster; it is rebuilt when the input size changes mid-track.
    """

    def __init__(self, cell: tuple[int, int], flags: str) -> None:
        self.cell = cell
        self.flags = flags
        self._input: tuple[int, int, str] | None = None
        self._graph: av.filter.Graph | None = None
        self._passthrough = False

    def _configure(self, frame: av.VideoFrame) -> None:
        w, h = fit(frame.width, frame.height, *self.cell)
        self._input = (frame.width, frame.height, frame.format.name)
        self._passthrough = (w, h) == (frame.width, frame.height) and frame.format.name == "yuv420p"
        if self._passthrough:
            return
        graph = av.filter.Graph()
        source = graph.add_buffer(
            width=frame.width, height=frame.height, format=frame.format.name, time_base=Fraction(1, 1000)
        )
        scale = graph.add("scale", f"{w}:{h}:flags={self.flags}")
        convert = graph.add("format", "yuv420p")
        sink = graph.add("buffersink")
        source.link_to(scale)
        scale.link_to(convert)
        convert.link_to(sink)
        graph.configure()
        self._graph = graph

    def __call__(self, frame: av.VideoFrame) -> av.VideoFrame:
        if self._input != (frame.width, frame.height, frame.format.name):
            self._configure(frame)
        if self._passthrough:
            return frame
        assert self._graph is not None
        self._graph.push(frame)
        return self._graph.pull()


@dataclass
class Shown:
    """A decoded frame on the room timeline with its pictures per cell size (None: not needed)."""

    t: float
    pictures: dict[tuple[int, int], Picture] | None


class VideoSource(ReaderThread):
    def __init__(
        self,
        sid: str,
        path: Path,
        start: float,
        sizes: set[tuple[int, int]],
        needed: IntervalSet,
        scale_flags: str = "bilinear",
    ) -> None:
        self.sid = sid
        self.path = path
        self.start = start
        self.needed = needed
        self._scalers = {size: Scaler(size, scale_flags) for size in sizes}
        super().__init__(f"video-{sid}", QUEUE_FRAMES)
        self._current: Shown | None = None
        self._next: object | None = None
        self._done = False
        self._last_frame: av.VideoFrame | None = None
        self._last_pictures: dict[tuple[int, int], Picture] | None = None

    # -- reader thread ----------------------------------------------------------------
    def _scaled(self, frame: av.VideoFrame) -> dict[tuple[int, int], Picture]:
        """Scaled pictures of `frame`; a frame identical to the last one scaled gets that one's
        pictures (the same objects), so the compositor sees nothing new to paste."""
        last = self._last_frame
        if last is not None and self._last_pictures is not None and same_picture(last, frame):
            return self._last_pictures
        self._last_frame = frame
        self._last_pictures = {size: Picture.of(scaler(frame)) for size, scaler in self._scalers.items()}
        return self._last_pictures

    def _emit(self, t: float, frame: av.VideoFrame, until: float) -> bool:
        pictures = self._scaled(frame) if self.needed.overlaps(t, until) else None
        return self.put(Shown(t, pictures))

    def produce(self) -> None:
        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "SLICE"
            stream.codec_context.thread_count = 1
            first = media_origin(container, stream)
            seek_to(container, stream, self.needed.start - self.start + first)
            pending: tuple[float, av.VideoFrame] | None = None
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                t = self.start + frame.time - first
                if pending and not self._emit(pending[0], pending[1], t):
                    return
                pending = (t, frame)
            if pending:
                self._emit(pending[0], pending[1], math.inf)

    # -- compositor side --------------------------------------------------------------
    def picture_at(self, t: float, size: tuple[int, int]) -> Picture | None:
        """The frame on screen at room time `t`: the latest one that started by then."""
        while not self._done:
            if self._next is None:
                self._next = self.take()
            if self._next is END:
                self._done = True
                break
            assert isinstance(self._next, Shown)
            if self._next.t > t + 1e-6:
                break
            self._current, self._next = self._next, None
        if self._current is None or self._current.pictures is None:
            return None
        return self._current.pictures.get(size)
