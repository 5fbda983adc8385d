"""The SFU's live gauges in /metrics follow a room as people join and leave."""

import asyncio
import time

from tests.metrics_scrape import scrape, value
from tests.pipeline.sfu.conftest import join, leave_all, publish_av
from tests.waiting import wait_for


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
    url, count, lag = (
        f"{live.base}/metrics",
        "roomreel_event_loop_lag_seconds_count",
        "roomreel_event_loop_lag_seconds_sum",
    )
    first_sent = time.monotonic()
    before = scrape(url)
    first_back = time.monotonic()
    last: dict = {}

    def fifteen_more_ticks() -> bool:  # 1.5 s: enough for a tick every 0.2 s to fail below
        last["sent"] = time.monotonic()
        last["after"] = scrape(url)
        last["back"] = time.monotonic()
        return value(last["after"], count) - value(before, count) >= 15

    wait_for(fifteen_more_ticks, 20, "fifteen ticks of the event loop watch")
    after = last["after"]
    ticks = value(after, count) - value(before, count)
    late = value(after, lag) - value(before, lag)
    # Never more often than every tenth of a second, over the longest the window can have been...
    assert ticks <= (last["back"] - first_sent) / 0.1 + 1, (ticks, last, first_sent)
    # ...and none missed: each tick lasts a tenth plus its lag, over at least the shortest window
    # (one tick may straddle either end, late by as much as a loaded machine stalls the loop).
    assert 0.1 * ticks + late >= last["sent"] - first_back - 1.0, (ticks, late, last, first_back)
