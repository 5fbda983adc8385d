"""SubscribeRules and SubscribedTracks: the REST API decides what a participant receives."""

from __future__ import annotations

import asyncio
import time

import pytest
from twilio.base.exceptions import TwilioRestException

from tests.pipeline.sfu.conftest import join, leave_all, publish_av
from tests.waiting import until_quiet


def test_subscribe_rules_decide_what_a_participant_receives(live):
    twilio = live.client()

    async def frames_stop(track, seconds: float = 1.0) -> bool:
        before = track.frames
        await asyncio.sleep(seconds)  # the time must pass: no frame comes in it
        return track.frames == before

    async def frames_grow(track, timeout: float = 20.0) -> bool:
        before, deadline = track.frames, time.monotonic() + timeout
        while track.frames == before and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return track.frames > before

    async def scenario():
        alice = await join(live, "alice", "topology")
        await publish_av(alice, (200, 0, 0))
        bob = await join(live, "bob", "topology", decode=False)
        await bob.wait_until(lambda: len([t for t in bob.remote.values() if t.frames > 5]) == 2)
        bob_rest = twilio.video.v1.rooms(alice.room_sid).participants(bob.sid)
        default = await asyncio.to_thread(bob_rest.subscribe_rules.fetch)
        everything = await asyncio.to_thread(bob_rest.subscribed_tracks.list)

        audio_only = await asyncio.to_thread(
            bob_rest.subscribe_rules.update, rules=[{"type": "include", "kind": "audio"}]
        )
        video = next(t for t in bob.remote.values() if t.kind == "video")
        await until_quiet(lambda: video.frames)  # video frames already in flight when it was narrowed arrive
        audio = next(t for t in bob.remote.values() if t.kind == "audio")
        video_stopped = await frames_stop(video)
        audio_flows = await frames_grow(audio)
        narrowed = await asyncio.to_thread(bob_rest.subscribed_tracks.list)

        paused_at = video.frames
        await asyncio.to_thread(bob_rest.subscribe_rules.update, rules=[{"type": "include", "all": True}])
        await bob.wait_until(lambda: video.frames > paused_at + 5)
        again = await asyncio.to_thread(bob_rest.subscribed_tracks.list)
        await leave_all(alice, bob)
        return (
            alice.sid,
            bob.sid,
            default,
            everything,
            audio_only,
            video_stopped,
            audio_flows,
            narrowed,
            again,
        )

    alice_sid, bob_sid, default, everything, audio_only, video_stopped, audio_flows, narrowed, again = (
        asyncio.run(scenario())
    )
    assert default.rules == [{"type": "include", "all": True}] and default.participant_sid == bob_sid
    assert sorted(t.kind for t in everything) == ["audio", "video"]
    assert {(t.participant_sid, t.publisher_sid) for t in everything} == {(bob_sid, alice_sid)}
    assert audio_only.rules == [{"type": "include", "kind": "audio"}]
    assert video_stopped and audio_flows
    assert [t.kind for t in narrowed] == ["audio"]
    assert sorted(t.kind for t in again) == ["audio", "video"]


def test_a_late_publisher_is_filtered_by_the_rules_already_set(live):
    twilio = live.client()

    async def scenario():
        bob = await join(live, "bob", "late-filter", decode=False)
        await asyncio.to_thread(
            twilio.video.v1.rooms(bob.room_sid).participants(bob.sid).subscribe_rules.update,
            rules=[{"type": "include", "all": True}, {"type": "exclude", "publisher": "carol"}],
        )
        alice, carol = await join(live, "alice", "late-filter"), await join(live, "carol", "late-filter")
        await publish_av(alice, (0, 200, 0))
        await publish_av(carol, (0, 0, 200))
        # Alice's tracks reach bob, and carol's have flowed into the SFU for a second (at 15 fps):
        # long enough for them to have reached bob too had the rule not kept them out.
        room = live.app.state.sfu.rooms[bob.room_sid]

        def flowed() -> bool:
            carols = [t for t in room.tracks() if t.publisher.identity == "carol"]
            alices = [t for t in bob.remote.values() if t.identity == "alice" and t.frames]
            return len(alices) == 2 and len(carols) == 2 and all(t.frames >= 15 for t in carols)

        await bob.wait_until(flowed, 30)
        received = {(t.identity, t.kind) for t in bob.remote.values() if t.frames > 0}
        await leave_all(alice, bob, carol)
        return received

    assert asyncio.run(scenario()) == {("alice", "audio"), ("alice", "video")}


@pytest.mark.parametrize(
    "rules",
    [[], [{"type": "include", "kind": "smell"}], [{"type": "include", "all": True, "kind": "audio"}]]
    + [[{"type": "include", "all": True}] * 21],
)
def test_bad_subscribe_rules_are_error_53215(live, rules):
    twilio = live.client()

    async def scenario():
        alice = await join(live, "alice", "bad-rules")
        try:
            with pytest.raises(TwilioRestException) as caught:
                await asyncio.to_thread(
                    twilio.video.v1.rooms(alice.room_sid).participants(alice.sid).subscribe_rules.update,
                    rules=rules,
                )
            return caught.value
        finally:
            await alice.leave()

    error = asyncio.run(scenario())
    assert (error.status, error.code) == (400, 53215)
