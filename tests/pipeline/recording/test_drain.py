"""The unpublish or leave message can overtake a track's last packets: the recording still gets
them (the recorder drains for a short grace before it closes the span)."""

from __future__ import annotations

import asyncio

import av
import pytest
from aiortc.rtp import is_rtcp

from pipeline.client.synthetic_tracks import MediaClock, ToneAudioTrack
from tests.pipeline.sfu.conftest import join, leave_all
from tests.waiting import wait_for

# Seconds every RTP packet of the publisher is held back: 10 Opus packets, all lost without the
# drain (the assertion allows 3), and 0.3 s of margin inside the recorder's 0.5 s DRAIN_GRACE for
# a loaded machine to get them through the loop, the socket and the server.
LATE = 0.2


def hold_back(client, name: str) -> dict[str, int]:
    """Send the client's RTP for `name` LATE seconds late (order kept), counting the packets
    handed to the network ("packets") and those actually sent, LATE later ("delivered")."""
    transceiver = client.local[name]["transceiver"]
    opus = next(c.payloadType for c in transceiver._codecs if c.mimeType.lower() == "audio/opus")
    transport = transceiver.sender.transport
    send = transport._send_rtp
    sent = {"packets": 0, "delivered": 0}
    loop = asyncio.get_running_loop()

    async def send_late(data: bytes, counted: bool) -> None:
        await send(data)
        if counted:
            sent["delivered"] += 1

    async def late(data: bytes) -> None:
        if is_rtcp(data):
            await send(data)
            return
        counted = data[1] & 0x7F == opus
        if counted:
            sent["packets"] += 1
        loop.call_later(LATE, lambda: asyncio.ensure_future(send_late(data, counted)))

    transport._send_rtp = late
    return sent


@pytest.mark.parametrize("ending", ["unpublish", "leave", "unpublish-then-leave"])
def test_packets_behind_the_unpublish_or_leave_are_recorded(live, tmp_path, ending):
    twilio = live.client()
    room = twilio.video.v1.rooms.create(unique_name=f"drain-{ending}", record_participants_on_connect=True)

    async def scenario():
        alice = await join(live, "alice", room.unique_name)
        await alice.publish(ToneAudioTrack(440.0, MediaClock()), "microphone")
        sent = hold_back(alice, "microphone")
        await alice.wait_until(lambda: sent["packets"] >= 75, timeout=30)  # 1.5 s of Opus
        handed = sent["packets"]  # sent before the track ends; all of it should be recorded

        async def all_handed_sent() -> None:
            # Every packet handed before the end has left (LATE after it), so closing the
            # connection now loses none on the client's side.
            await alice.wait_until(lambda: sent["delivered"] >= handed, timeout=30)

        if ending == "unpublish":
            await alice.unpublish("microphone")
            await all_handed_sent()
            await leave_all(alice)
        elif ending == "unpublish-then-leave":
            await alice.unpublish("microphone")
            await alice._send({"type": "leave"})  # the connection must stay for the drain
            await all_handed_sent()
            await leave_all(alice)
        else:
            # The leave message overtakes packets still on the wire (the connection closes after).
            await alice._send({"type": "leave"})
            await all_handed_sent()
            await leave_all(alice)
        return handed

    sent = asyncio.run(scenario())
    twilio.video.v1.rooms(room.sid).update(status="completed")
    recordings = twilio.video.v1.rooms(room.sid).recordings
    wait_for(lambda: [r.status for r in recordings.list()] == ["completed"], 30, "the recording")
    recording = recordings.list()[0]
    storage = live.app.state.services.storage
    path = storage.get_file(f"rooms/{room.sid}/{recording.sid}.mka", tmp_path / "a.mka")
    with av.open(str(path)) as container:
        recorded = sum(1 for p in container.demux(audio=0) if p.size)
    # LATE seconds of Opus is 15 packets: without the drain they were all lost.
    assert sent > 60
    assert recorded >= sent - 3, (recorded, sent)
