"""The SFU's live gauges in /metrics follow a room as people join and leave."""

import asyncio

from tests.metrics_scrape import scrape, value
from tests.pipeline.sfu.conftest import join, leave_all, publish_av


def test_live_gauges_count_rooms_participants_and_forwarded_streams(live):
    async def scenario():
        alice = await join(live, "alice", "gauged")
        bob = await join(live, "bob", "gauged", decode=False)
        carol = await join(live, "carol", "gauged", decode=False)
        await publish_av(alice, (10, 200, 10))
        await bob.wait_until(
            lambda: len(bob.tracks_of("alice")) == 2 and all(t.frames for t in bob.tracks_of("alice"))
        )
        await carol.wait_until(
            lambda: all(t.frames for t in carol.tracks_of("alice")) and carol.tracks_of("alice")
        )
        during = await asyncio.to_thread(scrape, f"{live.base}/metrics")
        await leave_all(alice, bob, carol)
        return during

    during = asyncio.run(scenario())
    assert value(during, "roomreel_live_rooms") >= 1
    assert value(during, "roomreel_live_participants") >= 3
    assert value(during, "roomreel_forwarded_streams") >= 4  # alice's audio and video to bob and carol


def test_the_event_loop_lag_is_observed_every_tenth_of_a_second(live):
    before = scrape(f"{live.base}/metrics")
    asyncio.run(asyncio.sleep(0.6))
    after = scrape(f"{live.base}/metrics")
    ticks = value(after, "roomreel_event_loop_lag_seconds_count") - value(
        before, "roomreel_event_loop_lag_seconds_count"
    )
    assert 3 <= ticks <= 8
