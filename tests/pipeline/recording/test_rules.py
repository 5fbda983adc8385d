"""Recording rules decide which tracks are recorded, including changes in the middle of a room."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from twilio.base.exceptions import TwilioRestException

from pipeline.recording.rules import TrackFacts, should_record
from tests.pipeline.sfu.conftest import join, leave_all, publish_av

ALICE_CAM = TrackFacts("MT1", "camera", "video", "PA1", "alice")
BOB_MIC = TrackFacts("MT2", "microphone", "audio", "PA2", "bob")


@pytest.mark.parametrize(
    "rules, alice_cam, bob_mic",
    [
        ([], False, False),
        ([{"type": "include", "all": True}], True, True),
        ([{"type": "include", "kind": "audio"}], False, True),
        ([{"type": "include", "publisher": "alice"}], True, False),
        ([{"type": "include", "publisher": "PA2"}], False, True),
        ([{"type": "include", "track": "camera"}], True, False),
        ([{"type": "include", "all": True}, {"type": "exclude", "kind": "video"}], False, True),
        ([{"type": "include", "publisher": "alice"}, {"type": "include", "kind": "audio"}], True, True),
        ([{"type": "exclude", "all": True}], False, False),
    ],
)
def test_rule_evaluation(rules, alice_cam, bob_mic):
    assert should_record(rules, ALICE_CAM) is alice_cam
    assert should_record(rules, BOB_MIC) is bob_mic


def run_room(live, name: str, rules: list | None, during=None) -> list:
    """Alice and bob publish for a few seconds; returns the room's recordings (type, identity)."""
    twilio = live.client()
    params = {"unique_name": name}
    if rules is not None:
        params["recording_rules"] = {"rules": rules}
    room = twilio.video.v1.rooms.create(**params)

    async def scenario():
        alice, bob = await join(live, "alice", name), await join(live, "bob", name)
        await publish_av(alice, (200, 0, 0))
        await publish_av(bob, (0, 200, 0))
        # Media must flow for a while, each recording needs some to hold: a second of it from both
        # publishers at the SFU (50 Opus frames, 15 video frames), however late it starts.
        sfu_room = live.app.state.sfu.rooms[room.sid]
        second = {"audio": 50, "video": 15}
        await alice.wait_until(
            lambda: (
                len(sfu_room.tracks()) == 4 and all(t.frames >= second[t.kind] for t in sfu_room.tracks())
            ),
            30,
        )
        if during is not None:
            await during(twilio, room, alice)
        await asyncio.to_thread(twilio.video.v1.rooms(room.sid).update, status="completed")
        await leave_all(alice, bob)
        return {alice.sid: "alice", bob.sid: "bob"}

    people = asyncio.run(scenario())
    return [
        (r.type, people[r.grouping_sids["participant_sid"]], r.status, r.duration)
        for r in twilio.video.v1.rooms(room.sid).recordings.list()
    ]


def test_audio_only_rule(live):
    recorded = run_room(live, "rules-audio", [{"type": "include", "kind": "audio"}])
    assert sorted((t, who) for t, who, *_ in recorded) == [("audio", "alice"), ("audio", "bob")]


def test_one_publisher_rule(live):
    recorded = run_room(live, "rules-alice", [{"type": "include", "publisher": "alice"}])
    assert sorted((t, who) for t, who, *_ in recorded) == [("audio", "alice"), ("video", "alice")]


def test_rules_switched_mid_room_start_and_stop_recordings_at_once(live):
    clock: dict[str, float] = {}

    async def switch(twilio, room, alice):
        rules = twilio.video.v1.rooms(room.sid).recording_rules
        clock["before_first"] = time.monotonic()
        await asyncio.to_thread(rules.update, rules=[{"type": "include", "all": True}])
        clock["after_first"] = time.monotonic()
        await asyncio.sleep(2.0)  # media must flow: bob's recordings last this long
        clock["before_second"] = time.monotonic()
        await asyncio.to_thread(rules.update, rules=[{"type": "include", "publisher": alice.sid}])
        clock["after_second"] = time.monotonic()
        await asyncio.sleep(2.0)  # media must flow: alice's go on this much longer than bob's
        clock["end"] = time.monotonic()  # the room is completed after this

    recorded = run_room(live, "rules-switch", [], during=switch)
    assert all(status == "completed" for _, _, status, _ in recorded)
    by_who = sorted((who, t, duration) for t, who, _, duration in recorded)
    # Everyone from the first switch; bob stops at the second; alice goes on to the end.
    assert [(w, t) for w, t, _ in by_who] == [
        ("alice", "audio"),
        ("alice", "video"),
        ("bob", "audio"),
        ("bob", "video"),
    ]
    # Bob's recordings span the two switches: at least from the first update's answer to the
    # second's request, at most from the first's request to the second's answer (durations are
    # whole seconds, rounded, so 0.5 s either way; another 0.5 s for the first frame to come).
    shortest = clock["before_second"] - clock["after_first"]
    longest = clock["after_second"] - clock["before_first"]
    bob = [d for w, _, d in by_who if w == "bob"]
    assert all(shortest - 1.0 <= d <= longest + 0.5 for d in bob), (bob, shortest, longest)
    # Alice's go on from the first switch to the end, a second or more past bob's.
    alice = [d for w, _, d in by_who if w == "alice"]
    assert all(d >= clock["end"] - clock["after_first"] - 1.0 and d > max(bob) for d in alice), (
        alice,
        bob,
        clock,
    )


@pytest.mark.parametrize(
    "rules, field",
    [
        ([{"type": "include", "everyone": True}], "Rules[0].everyone"),
        ([{"type": "include", "publisher": "PA" + "0" * 32}], "Rules[0].publisher"),
        ([{"type": "include", "kind": "smell"}], "Rules[0].kind"),
    ],
)
def test_bad_rules_are_refused_with_the_field_named(live, rules, field):
    room = live.client().video.v1.rooms.create(unique_name=f"bad-rules-{field}")
    response = live.http().post(f"/v1/Rooms/{room.sid}/RecordingRules", data={"Rules": json.dumps(rules)})
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 400 and field in body["message"]
    with pytest.raises(TwilioRestException):
        live.client().video.v1.rooms(room.sid).recording_rules.update(rules=rules)
