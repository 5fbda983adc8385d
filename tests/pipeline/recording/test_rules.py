"""Recording rules decide which tracks are recorded, including changes in the middle of a room."""

from __future__ import annotations

import asyncio
import json

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
        await asyncio.sleep(1.5)
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
    async def switch(twilio, room, alice):
        rules = twilio.video.v1.rooms(room.sid).recording_rules
        await asyncio.to_thread(rules.update, rules=[{"type": "include", "all": True}])
        await asyncio.sleep(2.0)
        await asyncio.to_thread(rules.update, rules=[{"type": "include", "publisher": alice.sid}])
        await asyncio.sleep(2.0)

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
    assert all(d == 2 for w, _, d in by_who if w == "bob")
    assert all(d >= 4 for w, _, d in by_who if w == "alice")


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
