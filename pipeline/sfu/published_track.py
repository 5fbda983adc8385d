"""A track one participant publishes: its encoded frames fan out to every subscriber and sink."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Protocol

from aiortc import RTCRtpReceiver

from pipeline.metrics import KEYFRAME_REQUESTS
from pipeline.track_rules import TrackFacts

from . import rtc_adapter
from .frame_assembler import EncodedFrame

if TYPE_CHECKING:
    from .participant import Participant

KEYFRAME_INTERVAL = 0.5  # at most two keyframe requests per second reach a publisher
# The unpublish or leave message (TCP) can overtake the track's last packets (UDP, or still
# queued behind a busy loop): a sink that stays attached, the recorder, gets them this long.
DRAIN_GRACE = 0.5  # seconds


class TrackSink(Protocol):
    """Anything that takes a published track's frames: a subscription or a recorder writer."""

    def push(self, frame: EncodedFrame) -> None: ...

    def resync(self) -> None: ...


class PublishedTrack:
    def __init__(
        self,
        sid: str,
        name: str,
        kind: str,
        publisher: Participant,
        codec: str,
        clock_rate: int,
        enabled: bool = True,
    ) -> None:
        self.sid = sid
        self.name = name
        self.kind = kind
        self.publisher = publisher
        self.codec = codec
        self.clock_rate = clock_rate
        self.enabled = enabled
        self.published = True
        self.sinks: set[TrackSink] = set()
        self.receiver: RTCRtpReceiver | None = None
        # A data track's channel options (ordered, maxRetransmits, maxPacketLifeTime), which its
        # subscribers' channels repeat; None until the publisher's channel arrives, and the
        # subscribers that came before wait for it.
        self.data_options: dict[str, Any] | None = None
        self.waiting_subscribers: set[Participant] = set()
        self.frames = 0
        self.bytes = 0
        self._ssrc = 0
        self._last_request = 0.0
        self._pending_request: asyncio.TimerHandle | None = None
        self.max_bitrate: int | None = None  # the room's cap for video, if set
        self._rates: dict[TrackSink, int] = {}  # each subscriber's last REMB
        self._announced: int | None = None

    # -- from the publisher (FrameSink for the assembler) ---------------------------------
    def on_frame(self, frame: EncodedFrame) -> None:
        self._ssrc = frame.ssrc or self._ssrc
        if not self.enabled:
            return  # after close, only sinks still draining (subscriptions were unbound) get frames
        self.frames += 1
        self.bytes += len(frame.data)
        if frame.audio_level is not None:
            self.publisher.room.speakers.observe(self.publisher.sid, frame.audio_level, frame.arrival)
        for sink in list(self.sinks):
            sink.push(frame)

    def on_frame_lost(self) -> None:
        for sink in list(self.sinks):
            sink.resync()
        self.request_keyframe()

    # -- to subscribers ---------------------------------------------------------------------
    def attach(self, sink: TrackSink) -> None:
        self.sinks.add(sink)
        if self.kind == "video":
            self.request_keyframe()

    def detach(self, sink: TrackSink) -> None:
        self.sinks.discard(sink)
        self._rates.pop(sink, None)

    # -- bandwidth ----------------------------------------------------------------------------
    def bitrate_cap(self) -> int | None:
        """The weakest subscriber's estimate or the room's cap, whichever is lower."""
        limits = list(self._rates.values()) + ([self.max_bitrate] if self.max_bitrate else [])
        return min(limits) if limits else None

    def report_rate(self, sink: TrackSink, bitrate: int) -> None:
        """A subscriber's REMB; a cap that moved by over 10 % is sent upstream at once."""
        if sink in self.sinks:
            self._rates[sink] = bitrate
        cap = self.bitrate_cap()
        if cap is None or self.receiver is None:
            return
        if self._announced is None or abs(cap - self._announced) > 0.1 * self._announced:
            self._announced = cap
            rtc_adapter.send_remb(self.receiver, cap, self._ssrc or self._receiver_ssrc())

    def set_enabled(self, enabled: bool) -> None:
        if enabled and not self.enabled:
            for sink in list(self.sinks):
                sink.resync()
            self.enabled = True
            self.request_keyframe()
        self.enabled = enabled

    def request_keyframe(self) -> None:
        """Throttled PLI upstream; a request inside the quiet interval is sent when it ends."""
        if self.kind != "video" or self.receiver is None:
            return
        now = time.monotonic()
        wait = self._last_request + KEYFRAME_INTERVAL - now
        if wait <= 0:
            self._send_pli()
        elif self._pending_request is None:
            self._pending_request = asyncio.get_running_loop().call_later(wait, self._send_pli)

    def _send_pli(self) -> None:
        self._pending_request = None
        if self.receiver is None or not self.published:
            return
        self._last_request = time.monotonic()
        ssrc = self._ssrc or self._receiver_ssrc()
        if ssrc:
            rtc_adapter.request_keyframe(self.receiver, ssrc)
            KEYFRAME_REQUESTS.labels("to_publishers").inc()

    def _receiver_ssrc(self) -> int:
        sources = self.receiver.getSynchronizationSources() if self.receiver else []
        return sources[0].source if sources else 0

    def close(self) -> None:
        """Unpublished: no more subscribers or keyframe requests; sinks still attached (a
        recorder draining for DRAIN_GRACE) keep getting the frames in flight until they detach."""
        self.published = False
        if self._pending_request is not None:
            self._pending_request.cancel()
        self._rates.clear()

    def facts(self) -> TrackFacts:
        """What recording and subscribe rules match on."""
        return TrackFacts(self.sid, self.name, self.kind, self.publisher.sid, self.publisher.identity)

    def describe(self) -> dict:
        return {"sid": self.sid, "name": self.name, "kind": self.kind, "enabled": self.enabled}
