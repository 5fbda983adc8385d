"""The send path of a forwarded track: a subscriber's encoded frames go out as RTP without a
coroutine per packet.

aiortc's sender awaits four coroutine layers per packet (SRTP, ICE, connection, datagram
protocol), builds an RtpPacket object for each and reads the NTP clock twice per packet: with 20
subscribers that Python, not the kernel, was most of the forwarding cost. A track that hands out
encoded frames (`next_frame`) gets this loop instead: one header template per frame, stamped with
each packet's sequence number and marker, protected and written synchronously, so a frame is one
step of the event loop. Like `rtc_adapter`, this reaches into aiortc 1.16 internals; both are
pinned by tests/pipeline/sfu/test_rtc_adapter.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from aiortc import RTCRtpSender, clock
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcdtlstransport import State
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpsender import random_sequence_number
from aiortc.rtp import RTP_HISTORY_SIZE, RtpPacket, wrap_rtx
from aiortc.utils import random16, random32, uint16_add, uint32_add

from pipeline.metrics import RETRANSMISSIONS

log = logging.getLogger("roomreel.sfu")

# Every subscriber's sender wakes for the same frame in one pass of the loop: a 720p keyframe
# (~80 packets) times 20 subscribers would hold audio and timers for tens of milliseconds.
RESEND_INTERVAL = 0.02  # seconds before the same packet is resent again (a short round trip)
YIELD_EVERY = 8  # packets a sender writes before it lets the loop run other work
_original_run_rtp = RTCRtpSender._run_rtp
_original_retransmit = RTCRtpSender._retransmit


class EncodedFrameSource(Protocol):
    """A track whose sender forwards its frames as they are (a Subscription)."""

    async def next_frame(self) -> tuple[bytes, int]:
        """The next encoded frame and its RTP timestamp (clock-rate units); MediaStreamError at the end."""
        ...

    def stop(self) -> None: ...


def packetizer(codec_name: str) -> Callable[[bytes], list[bytes]]:
    """RTP payloads for one encoded frame, as aiortc's encoders would pack them."""
    name = codec_name.lower()
    if name == "vp8":
        picture_id = random16() % (1 << 15)

        def vp8(data: bytes) -> list[bytes]:
            nonlocal picture_id
            # Contiguous per subscriber: a receiver reads a jump as lost frames.
            payloads = Vp8Encoder._packetize(data, picture_id)
            picture_id = (picture_id + 1) % (1 << 15)
            return payloads

        return vp8
    if name == "h264":
        return lambda data: H264Encoder._packetize(H264Encoder._split_bitstream(data))
    return lambda data: [data]


async def _run_rtp(self: RTCRtpSender, codec: RTCRtpCodecParameters) -> None:
    track = getattr(self, "_RTCRtpSender__track", None)
    if not hasattr(track, "next_frame"):
        await _original_run_rtp(self, codec)
        return
    self._RTCRtpSender__rtp_started.set()  # type: ignore[attr-defined]
    try:
        await _forward(self, codec, track)
    except (asyncio.CancelledError, ConnectionError, MediaStreamError):
        pass
    except Exception:
        # stop() waits for the exit event below, so an unexpected error must not escape.
        log.warning("forwarding to a subscriber stopped", exc_info=True)
    try:
        track.stop()
    finally:
        self._RTCRtpSender__track = None  # type: ignore[attr-defined]
        self._RTCRtpSender__rtp_exited.set()  # type: ignore[attr-defined]


async def _forward(self: RTCRtpSender, codec: RTCRtpCodecParameters, track: EncodedFrameSource) -> None:
    pack = packetizer(codec.name)
    sequence = random_sequence_number()  # the lower half, as aiortc: no early wrap for SRTP's rollover
    origin = random32()
    history: dict[int, bytes] = {}
    self._roomreel_history = history  # type: ignore[attr-defined]
    extensions = self._RTCRtpSender__rtp_header_extensions_map  # type: ignore[attr-defined]
    dtls = self.transport
    while True:
        data, pts = await track.next_frame()
        if not self._enabled:
            continue
        payloads = pack(data)
        if not payloads:
            continue
        if dtls._state != State.CONNECTED:
            raise ConnectionError("DTLS is not connected")
        path = _datagram_path(dtls)
        if path is None:
            raise ConnectionError("ICE is not connected")
        datagrams, address = path
        protect, sendto = dtls._tx_srtp.protect, datagrams.sendto

        timestamp = uint32_add(origin, pts)
        template = RtpPacket(payload_type=codec.payloadType, timestamp=timestamp, ssrc=self._ssrc)
        template.extensions.mid = self._RTCRtpSender__mid  # type: ignore[attr-defined]
        header = _stamped(template, extensions)
        last = len(payloads) - 1
        octets = sent = 0
        for i, payload in enumerate(payloads):
            if i and i % YIELD_EVERY == 0:
                await asyncio.sleep(0)
                if dtls._state != State.CONNECTED or datagrams.is_closing():
                    raise ConnectionError("the subscriber's transport closed")
                header = _stamped(template, extensions)
            header[1] = (header[1] & 0x7F) | (0x80 if i == last else 0)
            header[2], header[3] = sequence >> 8, sequence & 0xFF
            packet = bytes(header) + payload
            history[sequence % RTP_HISTORY_SIZE] = packet
            protected = protect(packet)
            try:
                sendto(protected, address)
            except OSError:
                pass  # a full buffer or a passing route error loses this packet (NACK can repair it), not the stream
            octets += len(payload)
            sent += len(protected)
            sequence = uint16_add(sequence, 1)

        # What RTCP sender reports and getStats read, once per frame instead of per packet.
        self._RTCRtpSender__ntp_timestamp = clock.current_ntp_time()  # type: ignore[attr-defined]
        self._RTCRtpSender__rtp_timestamp = timestamp  # type: ignore[attr-defined]
        self._RTCRtpSender__octet_count += octets  # type: ignore[attr-defined]
        self._RTCRtpSender__packet_count += len(payloads)  # type: ignore[attr-defined]
        dtls._RTCDtlsTransport__tx_bytes += sent  # type: ignore[attr-defined]
        dtls._RTCDtlsTransport__tx_packets += len(payloads)  # type: ignore[attr-defined]


def _datagram_path(dtls):
    """The socket and address of the ICE pair a DTLS transport sends on now; None when it has
    none or the socket is closing."""
    pair = dtls.transport._connection._nominated.get(1)
    datagrams = pair.protocol.transport if pair is not None else None
    if datagrams is None or datagrams.is_closing():
        return None
    return datagrams, pair.remote_addr


def _stamped(template: RtpPacket, extensions) -> bytearray:
    """The frame's header as of now: abs-send-time feeds the receiver's bandwidth estimate, so
    packets sent after a yield carry their own send time, not the frame's first."""
    template.extensions.abs_send_time = (clock.current_ntp_time() >> 14) & 0x00FFFFFF
    return bytearray(template.serialize(extensions))


async def _retransmit(self: RTCRtpSender, sequence_number: int) -> None:
    """A NACKed packet from the forwarding history, resent on RTX when negotiated.

    A packet is resent at most once per RESEND_INTERVAL, as libwebrtc's sender resends at most
    once per round trip: NACKs for the same packet that arrive together (several RTCP reports,
    a client that repeats itself) cost one resend, not one each."""
    history: dict[int, bytes] | None = getattr(self, "_roomreel_history", None)
    if history is None:
        await _original_retransmit(self, sequence_number)
        return
    raw = history.get(sequence_number % RTP_HISTORY_SIZE)
    if raw is None:
        return
    resent: dict[int, tuple[int, float]] = self.__dict__.setdefault("_roomreel_resent", {})
    now, slot = time.monotonic(), sequence_number % RTP_HISTORY_SIZE
    last = resent.get(slot)
    if last is not None and last[0] == sequence_number and now - last[1] < RESEND_INTERVAL:
        return
    resent[slot] = (sequence_number, now)
    extensions = self._RTCRtpSender__rtp_header_extensions_map  # type: ignore[attr-defined]
    packet = RtpPacket.parse(raw, extensions)
    if packet.sequence_number != sequence_number:
        return
    rtx_payload_type = self._RTCRtpSender__rtx_payload_type  # type: ignore[attr-defined]
    if rtx_payload_type is not None:
        rtx_sequence = self._RTCRtpSender__rtx_sequence_number  # type: ignore[attr-defined]
        packet = wrap_rtx(
            packet, payload_type=rtx_payload_type, sequence_number=rtx_sequence, ssrc=self._rtx_ssrc
        )
        self._RTCRtpSender__rtx_sequence_number = uint16_add(rtx_sequence, 1)  # type: ignore[attr-defined]
    data = packet.serialize(extensions)
    # Written the way `_forward` writes (a subscriber on a lossy link asks for hundreds a second):
    # aiortc's own path awaits four coroutine layers per packet.
    dtls = self.transport
    path = _datagram_path(dtls) if dtls._state == State.CONNECTED else None
    if path is None:
        return
    datagrams, address = path
    try:
        datagrams.sendto(dtls._tx_srtp.protect(data), address)
    except OSError:
        return
    RETRANSMISSIONS.inc()


def install() -> None:
    RTCRtpSender._run_rtp = _run_rtp  # type: ignore[method-assign]
    RTCRtpSender._retransmit = _retransmit  # type: ignore[method-assign]
