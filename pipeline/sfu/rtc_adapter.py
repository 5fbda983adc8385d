"""Every use of aiortc/aioice internals lives here (and in rtp_forwarding, the forwarding send
path it installs), so an upgrade has two files to re-check.

aiortc 1.16 has no public hook for receiving encoded frames, none for passing a subscriber's
keyframe request on to a track, and gathers no loopback candidates. `tests/pipeline/sfu/
test_rtc_adapter.py` pins each of these behaviours.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import itertools
import logging
import types
from collections.abc import Callable, Sequence

import aioice.ice
from aiortc import RTCConfiguration, RTCRtpReceiver, RTCRtpSender
from aiortc.rtcrtpparameters import RTCRtpCodecCapability
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, pack_remb_fci, unpack_remb_fci

from . import rtp_forwarding
from .frame_assembler import FrameAssembler, FrameSink

log = logging.getLogger("roomreel.sfu")

_installed = False
_hosts: list[str] | None = None
_original_host_addresses = aioice.ice.get_host_addresses
_original_send_keyframe = RTCRtpSender._send_keyframe
_original_sender_rtcp = RTCRtpSender._handle_rtcp_packet
_original_request_received = aioice.ice.Connection.request_received
_port_range: range | None = None
_announced: dict[str, str] = {}  # bound address -> the address peers are told to use
_next_port: itertools.cycle | None = None


def _send_keyframe(self: RTCRtpSender) -> None:
    # A subscriber's PLI/FIR reaches the sender; a forwarded track passes it on to its publisher.
    track = getattr(self, "_RTCRtpSender__track", None)
    request = getattr(track, "request_keyframe", None)
    if request is not None:
        request()
    else:
        _original_send_keyframe(self)


async def _sender_rtcp(self: RTCRtpSender, packet) -> None:
    # A subscriber's REMB (its receive estimate) goes to the forwarded track, which caps the
    # publisher at the weakest subscriber's rate.
    if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
        track = getattr(self, "_RTCRtpSender__track", None)
        report = getattr(track, "on_remb", None)
        if report is not None:
            try:
                bitrate, _ = unpack_remb_fci(packet.fci)
            except ValueError:
                bitrate = None
            if bitrate:
                report(bitrate)
    await _original_sender_rtcp(self, packet)


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    if _hosts is None:
        return _original_host_addresses(use_ipv4, use_ipv6)
    return [h for h in _hosts if (":" in h and use_ipv6) or (":" not in h and use_ipv4)]


def _loopback_only() -> bool:
    return bool(_hosts) and all(ipaddress.ip_address(h).is_loopback for h in _hosts)


def reachable(address: str) -> bool:
    """Whether ICE should try a peer's candidate at `address`. Announcing only loopback, nothing
    else is reachable, and probing it would send traffic off loopback."""
    if not _loopback_only():
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:  # an mDNS name
        return False


def _request_received(self, message, addr, protocol) -> None:
    # A browser also probes our loopback candidate from its other interfaces' sockets; answering
    # (and checking back) would send STUN to those addresses. Announcing only loopback, we
    # ignore checks from anywhere else.
    if _loopback_only() and not ipaddress.ip_address(addr[0]).is_loopback:
        return
    _original_request_received(self, message, addr, protocol)


class _PortRangeLoop:
    """The running loop as aioice's gathering sees it: host sockets bind inside the configured
    UDP port range (firewalls open a range, not any ephemeral port)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def __getattr__(self, name: str):
        return getattr(self._loop, name)

    async def create_datagram_endpoint(self, factory, local_addr=None, **kwargs):
        if _port_range is None or _next_port is None or local_addr is None or local_addr[1] != 0:
            return await self._loop.create_datagram_endpoint(factory, local_addr=local_addr, **kwargs)
        for _ in range(len(_port_range)):
            try:
                return await self._loop.create_datagram_endpoint(
                    factory, local_addr=(local_addr[0], next(_next_port)), **kwargs
                )
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
        raise OSError(errno.EADDRINUSE, f"no free UDP port in {_port_range.start}-{_port_range.stop - 1}")


class _AsyncioForIce(types.ModuleType):
    """`asyncio` as aioice.ice sees it, handing out the port-range loop."""

    def __getattr__(self, name: str):
        return getattr(asyncio, name)

    @staticmethod
    def get_running_loop() -> asyncio.AbstractEventLoop:
        return _PortRangeLoop(asyncio.get_running_loop())  # type: ignore[return-value]


def set_port_range(ports: range | None) -> None:
    """Bind ICE host candidates inside `ports` (None: any ephemeral port)."""
    global _port_range, _next_port
    _port_range = ports if ports else None
    _next_port = itertools.cycle(ports) if ports else None
    aioice.ice.asyncio = _AsyncioForIce("asyncio") if ports else asyncio  # type: ignore[attr-defined]


def parse_port_range(text: str) -> range | None:
    """'50000-50199' -> range(50000, 50200); '' -> None."""
    if not text.strip():
        return None
    low, sep, high = text.partition("-")
    try:
        first, last = int(low), int(high if sep else low)
    except ValueError:
        raise ValueError(f"a UDP port range looks like 50000-50199, not {text!r}") from None
    if not 1 <= first <= last <= 65535:
        raise ValueError(f"a UDP port range looks like 50000-50199, not {text!r}")
    return range(first, last + 1)


def parse_announce(text: str, hosts: Sequence[str]) -> dict[str, str]:
    """ROOMREEL_RTC_ANNOUNCE: '203.0.113.7' (every bound host is announced as it) or
    '10.0.0.5=203.0.113.7,...' (per bound host); '' announces the bound addresses themselves."""
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        bound, sep, public = item.partition("=")
        pairs = [(bound.strip(), public.strip())] if sep else [(h, item) for h in hosts]
        for host, address in pairs:
            try:
                ipaddress.ip_address(host)
                ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(
                    f"ROOMREEL_RTC_ANNOUNCE takes IP addresses (203.0.113.7 or 10.0.0.5=203.0.113.7), not {item!r}"
                ) from None
            mapping[host] = address
    return mapping


def set_announced(mapping: dict[str, str]) -> None:
    _announced.clear()
    _announced.update(mapping)


def announce(sdp: str) -> str:
    """Our SDP with each bound address replaced by the one peers reach it at (1:1 NAT, a
    container bound to 0.0.0.0 behind published ports)."""
    if not _announced:
        return sdp
    lines = []
    for line in sdp.split("\r\n"):
        if line.startswith("a=candidate:"):
            fields = line.split(" ")
            if len(fields) > 5 and fields[4] in _announced:
                fields[4] = _announced[fields[4]]
                line = " ".join(fields)
        elif line.startswith("c=IN IP"):
            fields = line.split(" ")
            if len(fields) == 3 and fields[2] in _announced:
                fields[2] = _announced[fields[2]]
                line = " ".join(fields)
        lines.append(line)
    return "\r\n".join(lines)


def install(hosts: Sequence[str] | None = None, ports: range | None = None) -> None:
    """Patch aiortc once per process; `hosts` are the only addresses ICE binds and announces,
    inside the UDP port range `ports` when one is given.

    aioice skips loopback addresses when it gathers, so tests (127.0.0.1 only) need this too.
    """
    global _installed, _hosts
    if hosts:
        _hosts = list(hosts)
    if ports:
        set_port_range(ports)
    if not _installed:
        RTCRtpSender._send_keyframe = _send_keyframe  # type: ignore[method-assign]
        RTCRtpSender._handle_rtcp_packet = _sender_rtcp  # type: ignore[method-assign]
        aioice.ice.get_host_addresses = _host_addresses
        aioice.ice.Connection.request_received = _request_received
        rtp_forwarding.install()
        _installed = True


def rtc_configuration() -> RTCConfiguration:
    # No iceServers would make aiortc ask a public STUN server; the SFU announces its own hosts.
    return RTCConfiguration(iceServers=[])


def forward_encoded(
    receiver: RTCRtpReceiver,
    kind: str,
    codec_name: str,
    sink: FrameSink,
    bitrate_cap: Callable[[], int | None] | None = None,
) -> FrameAssembler:
    """Make `receiver` hand complete encoded frames to `sink` instead of decoding them.

    With `bitrate_cap`, the REMB this receiver sends its publisher never exceeds the cap.
    """
    assembler = FrameAssembler(kind, codec_name, sink)
    receiver._RTCRtpReceiver__jitter_buffer = assembler  # type: ignore[attr-defined]
    if kind == "video":
        assembler.nack_task = asyncio.ensure_future(_nack_retries(receiver, assembler))
    if bitrate_cap is not None:
        send = receiver._send_rtcp  # type: ignore[attr-defined]

        async def capped(packet) -> None:
            if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
                cap = bitrate_cap()
                try:
                    bitrate, ssrcs = unpack_remb_fci(packet.fci)
                except ValueError:
                    cap = None
                if cap is not None and bitrate > cap:
                    packet.fci = pack_remb_fci(cap, ssrcs)
            await send(packet)

        receiver._send_rtcp = capped  # type: ignore[attr-defined]
    return assembler


NACK_EVERY = 0.04  # seconds between repeats of a NACK for packets still missing
NACK_TRIES = 3  # repeats after aiortc's first NACK


async def _nack_retries(receiver: RTCRtpReceiver, assembler: FrameAssembler) -> None:
    """aiortc NACKs each gap once; a lost retransmission would then cost a keyframe. Repeat the
    NACK for packets still missing, a few times, until they arrive or the assembler gives up."""
    generator = receiver._RTCRtpReceiver__nack_generator  # type: ignore[attr-defined]
    tries: dict[int, int] = {}
    try:
        while receiver.transport.state != "closed":
            await asyncio.sleep(NACK_EVERY)
            missing = set(generator.missing) if generator is not None else set()
            for seq in list(tries):
                if seq not in missing:
                    del tries[seq]
            due = []
            for seq in missing:
                count = tries.get(seq, -1) + 1  # the first round here is aiortc's NACK's first repeat
                if count < NACK_TRIES:
                    tries[seq] = count
                    due.append(seq)
            if due and assembler.last_ssrc:
                assembler.nack_retries += len(due)
                await receiver._send_rtcp_nack(assembler.last_ssrc, sorted(due))  # type: ignore[attr-defined]
    except (asyncio.CancelledError, ConnectionError):
        pass


def send_remb(receiver: RTCRtpReceiver, bitrate: int, media_ssrc: int) -> None:
    """Tell the publisher on `receiver` to send at most `bitrate` (REMB)."""
    rtcp_ssrc = receiver._RTCRtpReceiver__rtcp_ssrc  # type: ignore[attr-defined]
    if rtcp_ssrc is None or not media_ssrc:
        return
    packet = RtcpPsfbPacket(
        fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=pack_remb_fci(bitrate, [media_ssrc])
    )
    task = asyncio.ensure_future(receiver._send_rtcp(packet))  # type: ignore[attr-defined]
    task.add_done_callback(_log_failure)


def request_keyframe(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Send a PLI for `media_ssrc` to whoever publishes on `receiver`."""
    send = receiver._send_rtcp_pli  # type: ignore[attr-defined]
    task = asyncio.ensure_future(send(media_ssrc))
    task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("PLI failed: %s", task.exception())


def codec_preferences(kind: str, codec_name: str) -> list[RTCRtpCodecCapability]:
    """The room's one codec (with its RTX), for `setCodecPreferences` on both sides."""
    capabilities = RTCRtpSender.getCapabilities(kind)
    if kind == "audio":
        return [c for c in capabilities.codecs if c.mimeType.lower() == "audio/opus"]
    wanted = f"video/{codec_name.lower()}"
    chosen = [c for c in capabilities.codecs if c.mimeType.lower() == wanted]
    if codec_name.lower() == "h264":
        # Constrained Baseline, packetization-mode 1: what browsers and aiortc both handle.
        chosen = [
            c
            for c in chosen
            if str(c.parameters.get("packetization-mode")) == "1"
            and str(c.parameters.get("profile-level-id", "")).lower().startswith("42")
        ] or chosen[:1]
    rtx = [c for c in capabilities.codecs if c.mimeType.lower() == "video/rtx"]
    return chosen + rtx


def restrict_answer_codecs(transceiver, codec_name: str) -> None:
    """Keep only the room's codec in an answer: aiortc negotiates inside setRemoteDescription,
    before any public call could set preferences on the transceivers it creates there."""
    wanted = f"video/{codec_name.lower()}" if transceiver.kind == "video" else "audio/opus"
    kept = [c for c in transceiver._codecs if c.mimeType.lower() == wanted]
    bases = {c.payloadType for c in kept}
    # An RTX whose base codec went would leave an answer browsers refuse ("apt" to nothing).
    codecs = [
        c
        for c in transceiver._codecs
        if c in kept or (c.mimeType.lower() == "video/rtx" and c.parameters.get("apt") in bases)
    ]
    if not kept:
        raise ValueError(
            f"the offer has no {codec_name if transceiver.kind == 'video' else 'Opus'} for {transceiver.kind}"
        )
    transceiver._codecs = codecs


async def create_offer_keeping_negotiated(pc):
    """`pc.createOffer()`, leaving negotiated transceivers' codecs and header extensions as they
    were. aiortc resets them to its own tables while it offers, and a connect task still pending
    from the last answer then started senders with aiortc's extension ids, not the peer's: the
    bundled transport parsed the peer's abs-send-time as an audio level and died."""
    kept = [(t, t._codecs, t._headerExtensions) for t in pc.getTransceivers() if t.currentDirection]
    try:
        return await pc.createOffer()
    finally:
        for transceiver, codecs, extensions in kept:
            transceiver._codecs, transceiver._headerExtensions = codecs, extensions


def negotiated_codec(transceiver):
    """(name, clock rate) of the codec media will use on `transceiver`."""
    codecs = [c for c in transceiver._codecs if c.mimeType.lower() != "video/rtx"]
    return codecs[0].name, codecs[0].clockRate


def _ice_credentials(sdp: str) -> tuple[str, str] | None:
    """The first `a=ice-ufrag`/`a=ice-pwd` of a description: with BUNDLE every section shares them."""
    ufrag = pwd = None
    for line in sdp.splitlines():
        if line.startswith("a=ice-ufrag:") and ufrag is None:
            ufrag = line.split(":", 1)[1].strip()
        elif line.startswith("a=ice-pwd:") and pwd is None:
            pwd = line.split(":", 1)[1].strip()
    return (ufrag, pwd) if ufrag and pwd else None


def _dtls_transports(pc) -> list:
    """The connection's DTLS transports, each once (with BUNDLE, every transceiver and the SCTP
    association share one)."""
    found = {id(t.receiver.transport): t.receiver.transport for t in pc.getTransceivers()}
    if pc.sctp is not None:
        found[id(pc.sctp.transport)] = pc.sctp.transport
    return list(found.values())


def follow_ice_restart(pc, offer_sdp: str) -> bool:
    """Adopt a client's ICE restart (new ufrag and password in a re-offer) on the running ICE
    connection. aiortc starts an ICE transport once and keeps its first remote credentials, so
    the new generation's checks would be refused (401) and only the old path could carry media:
    a client whose network changed could never reconnect. With the new remote credentials, its
    new candidates' checks pass, the pair it nominates becomes aioice's nominated pair, and the
    media moves there; our own credentials stay (the client tolerates an answerer that does not
    restart). Returns whether a restart was adopted."""
    credentials = _ice_credentials(offer_sdp)
    if credentials is None:
        return False
    adopted = False
    for dtls in _dtls_transports(pc):
        connection = dtls.transport._connection
        if connection.remote_username not in (None, credentials[0]):
            connection.remote_username, connection.remote_password = credentials
            adopted = True
    return adopted


def answer_as_dtls_server(pc, offer_sdp: str) -> None:
    """Answer a client's `a=setup:actpass` offer with `passive`, so that aiortc is the DTLS server.

    The DTLS server picks the SRTP profile. Chromium as server picks AES128_CM_HMAC_SHA1_80 from
    aiortc's list, while aiortc (OpenSSL) as server picks AEAD_AES_256_GCM, one pass with AES-NI
    instead of AES plus an HMAC-SHA1 over every packet: SRTP protection was 4.7x the samples for
    twilio-video.js subscribers (whose offers aiortc answered as client) against roomreel's own
    page (to which aiortc offers, as server). aiortc answers `active` whenever its role is still
    `auto`; both answers are valid (RFC 5763), and the role is set once, at the first answer."""
    setups = {line.split(":", 1)[1].strip() for line in offer_sdp.splitlines() if line.startswith("a=setup:")}
    if setups != {"actpass"}:
        return
    for transport in _dtls_transports(pc):
        if transport._role == "auto":
            transport._set_role("server")
