"""Subscribers' bandwidth feedback (REMB) caps the publisher, as does a room maximum."""

from __future__ import annotations

import asyncio

import pytest
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, pack_remb_fci, unpack_remb_fci

from pipeline.sfu import SfuSettings
from tests.live_server import running_server
from tests.pipeline.sfu.conftest import join, leave_all, publish_av


def encoder_bitrate(client) -> int | None:
    sender = client.local["camera"]["transceiver"].sender
    encoder = sender._RTCRtpSender__encoder
    return encoder.target_bitrate if encoder is not None else None


def upstream_rembs(server, publisher) -> list[int]:
    """Record the REMBs the SFU sends the publisher of `camera` from now on."""
    room = server.app.state.sfu.rooms[publisher.room_sid]
    receiver = room.participants[publisher.sid].tracks["camera"].receiver
    sent: list[int] = []
    send = receiver._send_rtcp

    async def recording(packet):
        await send(packet)  # the SFU's cap applies inside
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            sent.append(unpack_remb_fci(packet.fci)[0])

    receiver._send_rtcp = recording
    return sent


def capped(sent: list[int], cap: int, publisher) -> bool:
    """The cap went upstream, two more REMBs followed it (any above the cap would fail the test),
    and the publisher's encoder took it."""
    if cap not in sent or len(sent) < sent.index(cap) + 3:
        return False
    rate = encoder_bitrate(publisher)
    return rate is not None and rate <= cap


def weak(client, bitrate: int) -> None:
    """Make every REMB this client sends report `bitrate` (a subscriber on a poor link)."""
    for transceiver in client._subscriber.getTransceivers():
        receiver = transceiver.receiver
        send = receiver._send_rtcp

        async def capped(packet, send=send):
            if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
                _, ssrcs = unpack_remb_fci(packet.fci)
                packet.fci = pack_remb_fci(bitrate, ssrcs)
            await send(packet)

        receiver._send_rtcp = capped


@pytest.fixture(scope="module")
def capped_server(tmp_path_factory):
    settings = SfuSettings(hosts=["127.0.0.1"], timeout_unit=0.5, max_video_bitrate=320_000)
    with running_server(tmp_path_factory.mktemp("capped"), sfu=settings) as server:
        yield server


def test_the_room_maximum_caps_the_publisher(capped_server):
    async def scenario():
        alice, bob = await join(capped_server, "alice", "cap"), await join(capped_server, "bob", "cap")
        await publish_av(alice, (200, 0, 0))
        await bob.wait_until(lambda: any(t.frames > 10 for t in bob.remote.values()))
        sent = upstream_rembs(capped_server, alice)
        weak(bob, 2_000_000)  # bob could take far more than the room allows
        await alice.wait_until(lambda: capped(sent, 320_000, alice), 30)
        rate = encoder_bitrate(alice)
        await leave_all(alice, bob)
        return sent, rate

    sent, rate = asyncio.run(scenario())
    assert max(sent) <= 320_000 and 320_000 in sent  # bob's 2 Mbps never went upstream
    assert rate <= 320_000


def test_the_weakest_subscriber_caps_the_publisher(live):
    async def scenario():
        alice = await join(live, "alice", "weakest")
        bob = await join(live, "bob", "weakest")
        carol = await join(live, "carol", "weakest", decode=False)
        await publish_av(alice, (200, 0, 0))
        await carol.wait_until(lambda: any(t.frames > 10 for t in carol.remote.values()))
        await bob.wait_until(lambda: any(t.frames > 10 for t in bob.remote.values()))
        sent = upstream_rembs(live, alice)
        weak(bob, 2_000_000)
        weak(carol, 280_000)
        await alice.wait_until(lambda: capped(sent, 280_000, alice), 30)
        rate = encoder_bitrate(alice)
        await leave_all(alice, bob, carol)
        return sent[sent.index(280_000) :], rate

    after, rate = asyncio.run(scenario())
    assert max(after) <= 280_000  # once carol reported, nothing above her rate went upstream
    assert rate <= 280_000
