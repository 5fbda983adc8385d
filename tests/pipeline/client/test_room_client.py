"""RoomClient's own calls against a live server."""

from __future__ import annotations

import asyncio

from tests.pipeline.sfu.conftest import join, leave_all


def test_a_ping_comes_back_as_a_pong_over_signaling(live):
    async def scenario():
        alice = await join(live, "alice", "ping-room")
        rtts = [await alice.ping() for _ in range(3)]
        pongs = sum(1 for m in alice.messages if m.get("type") == "pong")
        await leave_all(alice)
        return rtts, pongs

    rtts, pongs = asyncio.run(scenario())
    assert pongs == 3
    assert all(0 < rtt < 1.0 for rtt in rtts)
