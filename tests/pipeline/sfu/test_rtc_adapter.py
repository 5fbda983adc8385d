"""The aiortc/aioice internals `rtc_adapter` relies on are still there, and the UDP port range
setting holds for a real server: every socket its peer connections bind is inside the range."""

from __future__ import annotations

import asyncio
import inspect

import aioice.ice
import psutil
import pytest
from aiortc import RTCRtpReceiver, RTCRtpSender

from pipeline.client import RoomClient
from pipeline.sfu import rtc_adapter
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [("50000-50009", range(50000, 50010)), ("6000", range(6000, 6001)), ("", None), (" ", None)],
)
def test_port_ranges_parse(text, expected):
    assert rtc_adapter.parse_port_range(text) == expected


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


def test_media_flows_through_ports_inside_the_configured_range(tmp_path):
    ports = _udp_range(20)
    server = ServeProcess.prepare(tmp_path)
    server.env["ROOMREEL_RTC_PORT_RANGE"] = f"{ports.start}-{ports.stop - 1}"
    server.start()
    try:

        async def scenario() -> tuple[set[int], int]:
            alice = await RoomClient(server.base, server.token("alice", "ranged")).connect()
            bob = await RoomClient(server.base, server.token("bob", "ranged"), decode=False).connect()
            await publish_av(alice, (200, 30, 30))
            await bob.wait_until(lambda: sum(t.frames for t in bob.tracks_of("alice")) > 20, 15)
            bound = {c.laddr.port for c in psutil.Process(server.proc.pid).net_connections(kind="udp")}
            frames = sum(t.frames for t in bob.tracks_of("alice"))
            await leave_all(alice, bob)
            return bound, frames

        bound, frames = asyncio.run(scenario())
        assert frames > 20
        assert bound, "the server bound no UDP socket"
        assert bound <= set(ports), f"ports outside {ports}: {sorted(bound - set(ports))}"
    finally:
        server.stop()
