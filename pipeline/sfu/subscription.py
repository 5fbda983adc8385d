"""One sender slot on a subscriber's connection; it forwards whichever published track it is bound to.

aiortc's sender keeps awaiting the track it started with, so a slot is a long-lived track whose
source can change: freed when a track is unpublished, reused for the next one of its kind.
"""

from __future__ import annotations

import asyncio
from fractions import Fraction

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from pipeline.metrics import KEYFRAME_REQUESTS

from .frame_assembler import EncodedFrame
from .published_track import PublishedTrack

MAX_QUEUE = 90  # frames; a subscriber this far behind starts again at the next keyframe


class Subscription(MediaStreamTrack):
    def __init__(self, kind: str, clock_rate: int) -> None:
        super().__init__()
        self.kind = kind
        self.clock_rate = clock_rate
        self.time_base = Fraction(1, clock_rate)
        self.source: PublishedTrack | None = None
        self.mid: str | None = None
        self.frames = 0
        self._queue: asyncio.Queue[EncodedFrame | None] = asyncio.Queue()
        self._waiting_keyframe = kind == "video"
        self._offset: int | None = None  # maps the source's timestamps onto this slot's
        self._last_pts = -1
        self._step = clock_rate // 30 if kind == "video" else 960

    def bind(self, source: PublishedTrack) -> None:
        self.unbind()
        self.source = source
        self._offset = None
        self._waiting_keyframe = self.kind == "video"
        source.attach(self)

    def unbind(self) -> None:
        if self.source is not None:
            self.source.detach(self)
            self.source = None
        self._drain()

    # -- TrackSink ------------------------------------------------------------------------
    def push(self, frame: EncodedFrame) -> None:
        if self._waiting_keyframe:
            if not frame.keyframe:
                return
            self._waiting_keyframe = False
        if self._queue.qsize() >= MAX_QUEUE:
            self._drain()
            self.resync()
            if self.source is not None:
                self.source.request_keyframe()
            return
        self._queue.put_nowait(frame)

    def _drain(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    def resync(self) -> None:
        self._waiting_keyframe = self.kind == "video"

    def on_remb(self, bitrate: int) -> None:
        """Called by the patched sender with this subscriber's receive estimate."""
        if self.source is not None:
            self.source.report_rate(self, bitrate)

    def request_keyframe(self) -> None:
        """Called by the patched sender when this subscriber sends a PLI or FIR."""
        KEYFRAME_REQUESTS.labels("from_subscribers").inc()
        if self.source is not None:
            self.source.request_keyframe()

    # -- MediaStreamTrack ---------------------------------------------------------------------
    async def next_frame(self) -> tuple[bytes, int]:
        """The next frame and its timestamp on this slot's timeline (what the sender forwards)."""
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self._queue.get()
        if frame is None:
            raise MediaStreamError
        if self._offset is None:
            # A new source continues this slot's timeline one frame after the last packet.
            self._offset = self._last_pts + self._step - frame.timestamp
        pts = max(frame.timestamp + self._offset, self._last_pts + 1)
        self._last_pts = pts
        self.frames += 1
        return frame.data, pts

    async def recv(self) -> av.Packet:
        data, pts = await self.next_frame()
        packet = av.Packet(data)
        packet.pts = packet.dts = pts
        packet.time_base = self.time_base
        return packet

    def stop(self) -> None:
        self.unbind()
        self._queue.put_nowait(None)
        super().stop()
