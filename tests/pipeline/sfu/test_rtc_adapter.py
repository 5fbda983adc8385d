"""The aiortc/aioice internals `rtc_adapter` relies on are still there, and the UDP port range
setting holds for a real server: every socket its peer connections bind is inside the range."""

from __future__ import annotations

import asyncio
import inspect
from fractions import Fraction

import aioice.ice
import av
import psutil
import pytest
from aiortc import RTCDtlsTransport, RTCRtpReceiver, RTCRtpSender
from aiortc.codecs import CODECS, get_encoder
from aiortc.codecs.vpx import VpxPayloadDescriptor

from pipeline.client import RoomClient
from pipeline.sfu import rtc_adapter, rtp_forwarding
from tests.live_server import ServeProcess, free_port
from tests.pipeline.sfu.conftest import leave_all, publish_av


def test_the_private_hooks_still_exist():
    # An aiortc/aioice upgrade that renames any of these breaks forwarding silently otherwise.
    assert callable(RTCRtpSender._send_keyframe)
    assert inspect.iscoroutinefunction(RTCRtpSender._handle_rtcp_packet)
    for name in ("_send_rtcp", "_send_rtcp_pli", "_send_rtcp_nack"):
        assert inspect.iscoroutinefunction(getattr(RTCRtpReceiver, name)), name
    receiver_init = inspect.getsource(RTCRtpReceiver.__init__)
    for attribute in ("self.__jitter_buffer", "self.__nack_generator", "self.__rtcp_ssrc"):
        assert attribute in receiver_init, attribute
    assert "self.__track = track" in inspect.getsource(RTCRtpSender)
    assert list(inspect.signature(aioice.ice.get_host_addresses).parameters) == ["use_ipv4", "use_ipv6"]
    assert list(inspect.signature(aioice.ice.Connection.request_received).parameters)[1:] == [
        "message",
        "addr",
        "protocol",
    ]
    assert "asyncio.get_running_loop()" in inspect.getsource(aioice.ice.Connection.get_component_candidates)


def test_the_internals_the_forwarding_send_path_uses_still_exist():
    assert list(inspect.signature(rtp_forwarding._original_run_rtp).parameters) == ["self", "codec"]
    assert list(inspect.signature(rtp_forwarding._original_retransmit).parameters) == [
        "self",
        "sequence_number",
    ]
    sender = inspect.getsource(RTCRtpSender)
    for attribute in (
        "self.__rtp_header_extensions_map",
        "self.__mid",
        "self.__rtp_started.set()",
        "self.__rtp_exited.set()",
        "self.__ntp_timestamp",
        "self.__rtp_timestamp",
        "self.__octet_count",
        "self.__packet_count",
        "self.__rtx_payload_type",
        "self.__rtx_sequence_number",
        "self.__track = None",
    ):
        assert attribute in sender, attribute
    dtls = inspect.getsource(RTCDtlsTransport)
    for attribute in ("self._tx_srtp", "self.__tx_bytes", "self.__tx_packets", "self._state"):
        assert attribute in dtls, attribute
    assert "self._nominated" in inspect.getsource(aioice.ice.Connection)
    assert "self.transport.sendto(data, addr)" in inspect.getsource(aioice.ice.StunProtocol.send_data)


@pytest.mark.parametrize("codec", ["vp8", "h264", "opus"])
def test_the_send_path_packs_frames_as_aiortc_would(codec):
    # A keyframe-sized frame, so video spans many packets.
    if codec == "h264":
        data = (
            b"\x00\x00\x00\x01\x67"
            + bytes(20)
            + b"\x00\x00\x00\x01\x68"
            + bytes(4)
            + b"\x00\x00\x01\x65"
            + bytes(5000)
        )
    else:
        data = bytes(range(256)) * 20
    encoder = get_encoder(
        next(c for c in CODECS["video" if codec != "opus" else "audio"] if c.name.lower() == codec)
    )
    packet = av.Packet(data)
    packet.pts, packet.time_base = 0, Fraction(1, 90000 if codec != "opus" else 48000)
    pack = rtp_forwarding.packetizer(codec)
    ours = pack(data)
    theirs, _ = encoder.pack(packet)
    if codec == "vp8":  # the same but for the picture id each side starts from
        ours_parsed = [VpxPayloadDescriptor.parse(p) for p in ours]
        theirs_parsed = [VpxPayloadDescriptor.parse(p) for p in theirs]
        assert [(d.partition_start, data) for d, data in ours_parsed] == [
            (d.partition_start, data) for d, data in theirs_parsed
        ]
        assert len(ours) > 1
        after = VpxPayloadDescriptor.parse(pack(data)[0])[0].picture_id
        assert after == (ours_parsed[0][0].picture_id + 1) % (1 << 15)  # contiguous per subscriber
    else:
        assert ours == theirs


@pytest.mark.parametrize(
    ("text", "expected"),
    [("50000-50009", range(50000, 50010)), ("6000", range(6000, 6001)), ("", None), (" ", None)],
)
def test_port_ranges_parse(text, expected):
    assert rtc_adapter.parse_port_range(text) == expected


def test_announced_addresses_parse():
    assert rtc_adapter.parse_announce("", ["0.0.0.0"]) == {}
    assert rtc_adapter.parse_announce("203.0.113.7", ["0.0.0.0"]) == {"0.0.0.0": "203.0.113.7"}
    assert rtc_adapter.parse_announce("10.0.0.5=203.0.113.7, 10.0.0.6=203.0.113.8", []) == {
        "10.0.0.5": "203.0.113.7",
        "10.0.0.6": "203.0.113.8",
    }
    with pytest.raises(ValueError, match="ROOMREEL_RTC_ANNOUNCE"):
        rtc_adapter.parse_announce("example.com", ["0.0.0.0"])


@pytest.mark.parametrize("text", ["50010-50000", "0-10", "a-b", "1-70000"])
def test_a_bad_port_range_is_a_clear_error(text):
    with pytest.raises(ValueError, match="50000-50199"):
        rtc_adapter.parse_port_range(text)


def _udp_range(size: int) -> range:
    # A run of ports that are free now, well away from the ephemeral range the rest of the machine uses.
    for _ in range(50):
        start = free_port() % 20000 + 20000
        ports = range(start, start + size)
        if all(_udp_free(p) for p in ports):
            return ports
    raise RuntimeError("no free run of UDP ports")


def _udp_free(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _alice_to_bob(tmp_path, env: dict[str, str], observe):
    """Start `roomreel serve` with `env`, send alice's video to bob until 20 frames arrived, and
    return (frames, observe(server, alice, bob)) taken while media flows."""
    server = ServeProcess.prepare(tmp_path)
    server.env.update(env)
    server.start()
    try:

        async def scenario():
            alice = await RoomClient(server.base, server.token("alice", "room")).connect()
            bob = await RoomClient(server.base, server.token("bob", "room"), decode=False).connect()
            await publish_av(alice, (200, 30, 30))
            await bob.wait_until(lambda: sum(t.frames for t in bob.tracks_of("alice")) > 20, 15)
            seen = observe(server, alice, bob)
            frames = sum(t.frames for t in bob.tracks_of("alice"))
            await leave_all(alice, bob)
            return frames, seen

        return asyncio.run(scenario())
    finally:
        server.stop()


def test_media_flows_through_ports_inside_the_configured_range(tmp_path):
    ports = _udp_range(20)
    frames, bound = _alice_to_bob(
        tmp_path,
        {"ROOMREEL_RTC_PORT_RANGE": f"{ports.start}-{ports.stop - 1}"},
        lambda server, *_: {
            c.laddr.port for c in psutil.Process(server.proc.pid).net_connections(kind="udp")
        },
    )
    assert frames > 20
    assert bound, "the server bound no UDP socket"
    assert bound <= set(ports), f"ports outside {ports}: {sorted(bound - set(ports))}"


def test_a_server_bound_to_every_address_announces_the_configured_one(tmp_path):
    # A container binds 0.0.0.0 behind published ports and announces the host's address; here
    # the announced address is loopback, so every packet still stays on 127.0.0.1.
    frames, sdps = _alice_to_bob(
        tmp_path,
        {"ROOMREEL_RTC_HOSTS": "0.0.0.0", "ROOMREEL_RTC_ANNOUNCE": "127.0.0.1"},
        lambda _, *clients: [m["sdp"] for c in clients for m in c.messages if "sdp" in m],
    )
    assert frames > 20
    candidates = [line for sdp in sdps for line in sdp.splitlines() if line.startswith("a=candidate:")]
    assert candidates and all(line.split(" ")[4] == "127.0.0.1" for line in candidates), candidates
    # (o= and a=rtcp:9 carry 0.0.0.0 as the usual placeholders, which say nothing about addresses.)
    connections = {line for sdp in sdps for line in sdp.splitlines() if line.startswith("c=")}
    assert connections == {"c=IN IP4 127.0.0.1"}, connections


def test_an_offer_leaves_negotiated_parameters_as_negotiated():
    """aiortc resets every transceiver's codecs and extensions while it offers; a connect task
    still pending from the last answer would start senders with them (docs/signaling.md)."""
    from aiortc import RTCPeerConnection

    async def scenario() -> tuple[list, list]:
        ours, theirs = RTCPeerConnection(), RTCPeerConnection()
        theirs.addTransceiver("audio", direction="sendrecv")
        await theirs.setLocalDescription(await theirs.createOffer())
        await ours.setRemoteDescription(theirs.localDescription)
        await ours.setLocalDescription(await ours.createAnswer())
        (transceiver,) = ours.getTransceivers()
        transceiver._setCurrentDirection("recvonly")
        transceiver._headerExtensions[0].id = 9  # as a browser might number it
        before = [(e.uri, e.id) for e in transceiver._headerExtensions]
        await rtc_adapter.create_offer_keeping_negotiated(ours)
        after = [(e.uri, e.id) for e in transceiver._headerExtensions]
        await ours.close()
        await theirs.close()
        return before, after

    before, after = asyncio.run(scenario())
    assert after == before and (before[0][1] == 9)


def test_a_re_offer_with_new_ice_credentials_is_adopted_by_the_running_connection():
    """aiortc keeps an ICE transport's first remote credentials, so a client's ICE restart would
    be refused (docs/signaling.md); `follow_ice_restart` gives them to the running connection."""
    from aiortc import RTCPeerConnection

    async def scenario() -> tuple[tuple, tuple, bool, bool]:
        ours, theirs = RTCPeerConnection(), RTCPeerConnection()
        theirs.addTransceiver("audio", direction="sendrecv")
        await theirs.setLocalDescription(await theirs.createOffer())
        await ours.setRemoteDescription(theirs.localDescription)
        await ours.setLocalDescription(await ours.createAnswer())
        connection = ours.getTransceivers()[0].receiver.transport.transport._connection
        sdp = theirs.localDescription.sdp
        # as RTCIceTransport.start() sets them, once and for all
        connection.remote_username, connection.remote_password = rtc_adapter._ice_credentials(sdp)
        first = (connection.remote_username, connection.remote_password)
        restart = "\r\n".join(
            "a=ice-ufrag:newufrag" if line.startswith("a=ice-ufrag:")
            else "a=ice-pwd:newpasswordnewpassword12" if line.startswith("a=ice-pwd:")
            else line
            for line in sdp.split("\r\n")
        )  # fmt: skip
        same = rtc_adapter.follow_ice_restart(ours, sdp)
        adopted = rtc_adapter.follow_ice_restart(ours, restart)
        after = (connection.remote_username, connection.remote_password)
        await ours.close()
        await theirs.close()
        return first, after, same, adopted

    first, after, same, adopted = asyncio.run(scenario())
    assert not same and adopted  # a plain re-offer changes nothing
    assert first != after == ("newufrag", "newpasswordnewpassword12")


def test_nacks_for_one_packet_that_arrive_together_cost_one_resend():
    import time
    import types

    from aiortc.rtcdtlstransport import State
    from aiortc.rtp import HeaderExtensionsMap, RtpPacket

    sent: list[bytes] = []
    datagrams = types.SimpleNamespace(sendto=lambda data, addr: sent.append(data), is_closing=lambda: False)
    pair = types.SimpleNamespace(
        protocol=types.SimpleNamespace(transport=datagrams), remote_addr=("127.0.0.1", 9)
    )
    packet = RtpPacket(payload_type=96, sequence_number=700, timestamp=1, ssrc=5, payload=b"x" * 10)
    sender = types.SimpleNamespace(
        _roomreel_history={700 % 128: packet.serialize()},
        _RTCRtpSender__rtp_header_extensions_map=HeaderExtensionsMap(),
        _RTCRtpSender__rtx_payload_type=None,
        transport=types.SimpleNamespace(  # the DTLS transport, as far as the send path reads it
            _state=State.CONNECTED,
            _tx_srtp=types.SimpleNamespace(protect=lambda data: data),
            transport=types.SimpleNamespace(_connection=types.SimpleNamespace(_nominated={1: pair})),
        ),
    )

    async def scenario() -> list[int]:
        counts = []
        for _ in range(3):  # three NACKs for packet 700 in one burst
            await rtp_forwarding._retransmit(sender, 700)
        counts.append(len(sent))
        time.sleep(rtp_forwarding.RESEND_INTERVAL * 1.5)
        await rtp_forwarding._retransmit(sender, 700)  # lost again, asked for again a round trip later
        counts.append(len(sent))
        return counts

    assert asyncio.run(scenario()) == [1, 2]
