"""Encoded frames from RTP packets: a time-bounded, marker-aware replacement for aiortc's jitter buffer.

aiortc's buffer waits for 512 newer packets before it gives up on a lost one (seconds of stall),
holds each video frame until the next one starts (one frame of latency per hop) and prefetches
four audio packets (80 ms). This one releases a frame as soon as its marker packet completes it,
gives up on a gap after `max_wait`, and then asks for a keyframe.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aiortc.rtp import RtpPacket

MAX_WAIT = 0.25  # seconds a gap may hold frames back before they are dropped
MAX_PACKETS = 2048  # a buffer this full gives up on its gap at once
RESET_JUMP = 3000  # a sequence jump this large is a restarted stream, not loss
# A simulcast publisher sends several encodings of one video track, each with its own SSRC,
# sequence numbers and timestamps, and aiortc hands them all to the one receiver. roomreel
# forwards one encoding: the first it hears, until that one is silent this long.
ENCODING_SILENT = 1.0  # seconds


@dataclass(slots=True)
class EncodedFrame:
    data: bytes
    timestamp: int  # RTP timestamp, unwrapped to 64 bits, in clock-rate units
    keyframe: bool
    arrival: float  # wall-clock arrival of the frame's first packet (time.time())
    ssrc: int = 0
    # Audio: the RFC 6464 level (-dBov, 0 loudest .. 127 silence) the sender put in the packet's
    # ssrc-audio-level header extension; None when it sent none. Read, never computed: no decoding.
    audio_level: int | None = None


class FrameSink(Protocol):
    def on_frame(self, frame: EncodedFrame) -> None: ...

    def on_frame_lost(self) -> None: ...


def vp8_keyframe(data: bytes) -> bool:
    return bool(data) and (data[0] & 1) == 0


def h264_keyframe(data: bytes) -> bool:
    """An IDR slice or an SPS anywhere in the Annex-B access unit."""
    i = data.find(b"\x00\x00\x01")
    while i != -1 and i + 3 < len(data):
        if data[i + 3] & 0x1F in (5, 7):
            return True
        i = data.find(b"\x00\x00\x01", i + 3)
    return False


def starts_frame(codec_name: str, payload: bytes) -> bool:
    """Whether an RTP payload surely begins a frame (used to start on the very first keyframe)."""
    if not payload:
        return False
    name = codec_name.lower()
    if name == "vp8":
        return (payload[0] & 0x10) != 0 and (payload[0] & 0x07) == 0  # S bit, partition 0
    if name == "h264":
        return payload[0] & 0x1F in (7, 24)  # an SPS, or a STAP-A (which carries SPS/PPS)
    return False


def keyframe_test(codec_name: str) -> Callable[[bytes], bool]:
    name = codec_name.lower()
    if name == "vp8":
        return vp8_keyframe
    if name == "h264":
        return h264_keyframe
    return lambda data: True


class _Unwrap:
    """Extends a wrapping counter (16-bit sequence numbers, 32-bit timestamps) to a plain int."""

    __slots__ = ("bits", "last")

    def __init__(self, bits: int) -> None:
        self.bits = bits
        self.last: int | None = None

    def __call__(self, value: int) -> int:
        if self.last is None:
            self.last = value + (1 << self.bits)  # headroom, so early reordering stays positive
            return self.last
        size = 1 << self.bits
        delta = (value - self.last) % size
        if delta >= size // 2:
            delta -= size
        result = self.last + delta
        if delta > 0:
            self.last = result
        return result


class FrameAssembler:
    """Drop-in for `aiortc.jitterbuffer.JitterBuffer`: `add()` never returns a frame to aiortc.

    Complete frames go to the sink instead, so the receiver's decoder thread stays idle and the
    media is never decoded.
    """

    def __init__(
        self, kind: str, codec_name: str, sink: FrameSink, max_wait: float = MAX_WAIT, clock=time.time
    ) -> None:
        self.kind = kind
        self.sink = sink
        self.max_wait = max_wait
        self.clock = clock
        self.codec_name = codec_name
        self.is_keyframe = keyframe_test(codec_name)
        self._seq = _Unwrap(16)
        self._ts = _Unwrap(32)
        self._packets: dict[int, tuple[RtpPacket, float]] = {}
        self._next: int | None = None  # sequence number of the next frame's first packet
        self._scanned = 0  # packets from `_next` up to here are buffered, with no marker yet
        self._synced = kind == "audio"  # video starts after the first marker seen
        self._ssrc: int | None = None  # the one video encoding followed (simulcast: one of several)
        self._ssrc_heard = 0.0
        self._ts_shift: int | None = 0  # keeps timestamps continuous when the followed encoding changes
        self._last_ts: int | None = None
        self.ignored = 0  # packets of encodings not followed
        self.frames = 0
        self.dropped = 0
        self.last_ssrc = 0
        self.nack_retries = 0  # NACKs repeated for packets still missing (rtc_adapter)
        self.nack_task = None

    @property
    def capacity(self) -> int:  # read by aiortc's statistics
        return MAX_PACKETS

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        now = self.clock()
        if self.kind == "video" and not self._follows(packet.ssrc, now):
            self.ignored += 1
            return False, None
        self.last_ssrc = packet.ssrc
        seq = self._seq(packet.sequence_number)
        if self.kind == "audio":
            self._add_audio(packet, seq, now)
        else:
            self._add_video(packet, seq, now)
        return False, None

    def _follows(self, ssrc: int, now: float) -> bool:
        """Whether a video packet belongs to the encoding forwarded; switches to another encoding
        when the followed one has gone silent (a simulcast layer the publisher turned off)."""
        if ssrc == self._ssrc or self._ssrc is None:
            self._ssrc, self._ssrc_heard = ssrc, now
            return True
        if now - self._ssrc_heard < ENCODING_SILENT:
            return False
        # Start over on the other encoding: its own sequence numbers, and timestamps carried on
        # from the last frame so that subscribers and recordings see no jump in time.
        self._ssrc, self._ssrc_heard = ssrc, now
        self._seq, self._ts = _Unwrap(16), _Unwrap(32)
        self._packets.clear()
        self._scanned = 0
        self._next, self._synced = None, False
        self._ts_shift = None  # set by the first frame's timestamp
        self.sink.on_frame_lost()
        return True

    def _timestamp(self, rtp_timestamp: int) -> int:
        unwrapped = self._ts(rtp_timestamp)
        if self._ts_shift is None:  # one frame (30 fps at 90 kHz) after the last one forwarded
            self._ts_shift = self._last_ts + 3000 - unwrapped if self._last_ts is not None else 0
        self._last_ts = unwrapped + self._ts_shift
        return self._last_ts

    def _emit(self, packets: list[tuple[RtpPacket, float]]) -> None:
        first = packets[0][0]
        data = b"".join(p._data for p, _ in packets)  # type: ignore[attr-defined]
        if not data:
            return
        level = first.extensions.audio_level if self.kind == "audio" else None
        frame = EncodedFrame(
            data=data,
            timestamp=self._timestamp(first.timestamp),
            keyframe=self.is_keyframe(data),
            arrival=packets[0][1],
            ssrc=first.ssrc,
            audio_level=level[1] if level is not None else None,
        )
        self.frames += 1
        self.sink.on_frame(frame)

    def _add_audio(self, packet: RtpPacket, seq: int, now: float) -> None:
        # Every Opus packet is a whole frame: release it now, and never wait for a gap.
        if self._next is not None and seq < self._next:
            return
        if self._next is not None and seq > self._next:
            self.dropped += seq - self._next
        self._next = seq + 1
        self._emit([(packet, now)])

    def _add_video(self, packet: RtpPacket, seq: int, now: float) -> None:
        if not self._synced:
            if starts_frame(self.codec_name, packet.payload):
                self._synced = True
                self._next = seq
            else:
                # Joined mid-frame: the frame after the first marker is the first whole one.
                if packet.marker:
                    self._synced = True
                    self._next = seq + 1
                return
        assert self._next is not None
        if seq < self._next or seq in self._packets:
            return
        if seq - self._next > RESET_JUMP:
            self._packets.clear()
            self._scanned = 0
            self._synced = False
            self.sink.on_frame_lost()
            self._add_video(packet, seq, now)
            return
        self._packets[seq] = (packet, now)
        self._release()
        if self._packets and self._stalled(now):
            self._skip_gap()
            self._release()

    def _release(self) -> None:
        """Emit every complete frame at the head of the buffer, in order. The walk resumes where
        the last one stopped (`_scanned`): a keyframe of 80 packets is walked once, not 80 times."""
        while True:
            assert self._next is not None
            seq = max(self._next, self._scanned)
            while True:
                entry = self._packets.get(seq)
                if entry is None:
                    self._scanned = seq
                    return
                if entry[0].marker:
                    break
                seq += 1
            frame = [self._packets.pop(s) for s in range(self._next, seq + 1)]
            self._next = seq + 1
            self._emit(frame)

    def _stalled(self, now: float) -> bool:
        # The buffer keeps insertion order and arrivals only grow: its first entry is the oldest.
        oldest = next(iter(self._packets.values()))[1]
        return now - oldest > self.max_wait or len(self._packets) > MAX_PACKETS

    def _skip_gap(self) -> None:
        """Give up on the missing packets: drop through the first buffered marker after the gap."""
        lost_until = None
        for seq in sorted(self._packets):
            if self._packets[seq][0].marker:
                lost_until = seq
                break
        if lost_until is None:
            lost_until = max(self._packets)
        for seq in [s for s in self._packets if s <= lost_until]:
            del self._packets[seq]
        self.dropped += 1
        self._next = lost_until + 1
        self.sink.on_frame_lost()
