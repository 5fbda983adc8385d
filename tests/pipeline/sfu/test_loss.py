"""Loss between a publisher and the SFU: repaired when it can be (NACK/RTX), and when it cannot,
the picture freezes for well under a second (the assembler gives up, a keyframe follows)."""

from __future__ import annotations

import asyncio
import random
import struct

from aiortc.rtp import is_rtcp

from tests.metrics_scrape import scrape, value
from tests.pipeline.sfu.conftest import join, leave_all, publish_av


def lossy(client, drop) -> None:
    """Run every RTP packet the client publishes through `drop(packet) -> bool` (RTCP passes)."""
    transceiver = client.local["camera"]["transceiver"]
    transport = transceiver.sender.transport
    send = transport._send_rtp

    async def maybe_send(data: bytes) -> None:
        if not is_rtcp(data) and drop(data):
            return
        await send(data)

    transport._send_rtp = maybe_send


def original_sequence(data: bytes, rtx_payload_type: int | None) -> tuple[int, int]:
    """(payload type, sequence number of the media packet), reading through RTX."""
    payload_type = data[1] & 0x7F
    seq = struct.unpack("!H", data[2:4])[0]
    if payload_type == rtx_payload_type:
        csrc = (data[0] & 0x0F) * 4
        offset = 12 + csrc
        if data[0] & 0x10:  # header extension
            length = struct.unpack("!H", data[offset + 2 : offset + 4])[0]
            offset += 4 + 4 * length
        seq = struct.unpack("!H", data[offset : offset + 2])[0]
    return payload_type, seq


def longest_gap(arrivals: list[float]) -> float:
    return max((b - a for a, b in zip(arrivals, arrivals[1:])), default=0.0)


async def watch(live, room: str, drop_factory, seconds: float = 6.0):
    alice = await join(live, "alice", room)
    bob = await join(live, "bob", room, decode=False)
    await publish_av(alice, (200, 0, 0))
    await bob.wait_until(lambda: any(t.kind == "video" and t.frames > 10 for t in bob.remote.values()))
    lossy(alice, drop_factory(alice))
    video = next(t for t in bob.remote.values() if t.kind == "video")
    start = len(video.arrivals)
    await asyncio.sleep(seconds)  # media must flow through the loss: frame counts and gaps over this time
    arrivals = video.arrivals[start:]
    track = live.app.state.sfu.rooms[alice.room_sid].participants[alice.sid].tracks["camera"]
    assembler = track.receiver._RTCRtpReceiver__jitter_buffer
    given_up = assembler.dropped  # frames the SFU gave up on
    watch.nack_retries = assembler.nack_retries
    await leave_all(alice, bob)
    return arrivals, given_up


def test_two_percent_random_loss_is_repaired(live):
    rng = random.Random(7)

    def factory(alice):
        return lambda data: rng.random() < 0.02

    arrivals, _ = asyncio.run(watch(live, "loss-2pc", factory))
    assert len(arrivals) >= 0.85 * 15 * 6  # 15 fps for 6 s
    assert longest_gap(arrivals) < 0.5


def test_unrecoverable_loss_freezes_video_for_under_a_second(live):
    def factory(alice):
        codecs = alice.local["camera"]["transceiver"]._codecs
        rtx = next((c.payloadType for c in codecs if c.mimeType.lower() == "video/rtx"), None)
        lost = set()

        def drop(data: bytes) -> bool:
            payload_type, seq = original_sequence(data, rtx)
            if seq % 41 == 0:  # this packet and every retransmission of it are gone for good
                lost.add(seq)
                return True
            return False

        drop.lost = lost
        return drop

    before = scrape(f"{live.base}/metrics")
    arrivals, given_up = asyncio.run(watch(live, "loss-burst", factory))
    assert given_up >= 1  # the loss really was unrecoverable
    after = scrape(f"{live.base}/metrics")
    name, up = "roomreel_sfu_keyframe_requests_total", {"direction": "to_publishers"}
    assert value(after, name, **up) > value(before, name, **up)  # operators see it on /metrics
    assert watch.nack_retries >= 3  # each lost packet was asked for again before giving up
    assert len(arrivals) >= 0.5 * 15 * 6
    assert longest_gap(arrivals) < 1.0


def test_loss_between_sfu_and_subscriber_is_repaired_from_the_forwarding_history(live):
    """The SFU's send path keeps what it sent: a subscriber's NACK is answered on RTX."""

    async def scenario():
        alice = await join(live, "alice", "loss-down")
        bob = await join(live, "bob", "loss-down", decode=False)
        await publish_av(alice, (0, 200, 0))
        await bob.wait_until(lambda: any(t.kind == "video" and t.frames > 10 for t in bob.remote.values()))
        transceiver = next(t for t in bob._subscriber.getTransceivers() if t.kind == "video")
        codecs = transceiver._codecs
        media = next(c.payloadType for c in codecs if c.mimeType.lower() != "video/rtx")
        rtx = next(c.payloadType for c in codecs if c.mimeType.lower() == "video/rtx")
        transport = transceiver.receiver.transport
        handle = transport._handle_rtp_data
        seen = {"media": 0, "dropped": 0, "rtx": 0}

        async def lossy_receive(data: bytes, arrival_time_ms: int) -> None:
            payload_type = data[1] & 0x7F
            if payload_type == rtx:
                seen["rtx"] += 1
            elif payload_type == media:
                seen["media"] += 1
                if seen["media"] % 15 == 0:  # first sendings only: the retransmissions pass
                    seen["dropped"] += 1
                    return
            await handle(data, arrival_time_ms)

        transport._handle_rtp_data = lossy_receive
        video = next(t for t in bob.remote.values() if t.kind == "video")
        start = len(video.arrivals)
        await asyncio.sleep(6.0)  # media must flow through the loss: frame counts and gaps over 6 s
        arrivals = video.arrivals[start:]
        await leave_all(alice, bob)
        return arrivals, seen

    before = value(scrape(f"{live.base}/metrics"), "roomreel_sfu_retransmissions_total")
    arrivals, seen = asyncio.run(scenario())
    assert seen["dropped"] >= 3
    assert seen["rtx"] >= seen["dropped"] // 2  # the SFU answered NACKs from its history
    resent = value(scrape(f"{live.base}/metrics"), "roomreel_sfu_retransmissions_total") - before
    assert resent >= seen["rtx"]  # and /metrics counts them
    assert len(arrivals) >= 0.85 * 15 * 6
    assert longest_gap(arrivals) < 0.5
