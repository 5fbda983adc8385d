"""A room's life as Twilio reports it: timeouts end rooms (one "minute" is 0.5 s here), and each
step reaches the room's status callback with Twilio's parameters."""

from __future__ import annotations

import asyncio

import pytest
from twilio.base.exceptions import TwilioRestException

from pipeline.client.synthetic_tracks import MediaClock, ToneAudioTrack
from pipeline.embedded import deliver_pending
from tests.callback_receiver import Receiver
from tests.pipeline.sfu.conftest import join, publish_av
from tests.waiting import wait_for


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def events(live, receiver: Receiver, room_sid: str) -> list[dict[str, str]]:
    """The room's callbacks so far, in SequenceNumber order (delivering what is due first)."""
    deliver_pending(live.db)
    got = [form for _, _, form in receiver.received if form.get("RoomSid") == room_sid]
    return sorted(got, key=lambda form: int(form["SequenceNumber"]))


def test_a_rest_room_nobody_joins_ends_after_its_unused_timeout(live, receiver):
    twilio = live.client()
    room = twilio.video.v1.rooms.create(
        unique_name="nobody", unused_room_timeout=1, status_callback=receiver.url
    )
    wait_for(
        lambda: twilio.video.v1.rooms(room.sid).fetch().status == "completed", 10, "the unused room to end"
    )
    wait_for(lambda: len(events(live, receiver, room.sid)) >= 2, 10, "room-created and room-ended")
    created, ended = events(live, receiver, room.sid)
    assert (created["StatusCallbackEvent"], created["RoomStatus"], created["RoomType"]) == (
        "room-created",
        "in-progress",
        "group",
    )
    assert (ended["StatusCallbackEvent"], ended["RoomStatus"]) == ("room-ended", "completed")
    assert int(ended["RoomDuration"]) >= 0
    # Its UniqueName is free again.
    assert twilio.video.v1.rooms.create(unique_name="nobody").sid != room.sid


def test_a_room_reports_each_step_and_ends_after_its_empty_timeout(live, receiver):
    twilio = live.client()
    room = twilio.video.v1.rooms.create(
        unique_name="steps", empty_room_timeout=1, status_callback=receiver.url
    )

    async def reported(name: str) -> None:
        """Until the room's status callback has had `name` (the server acted on the message)."""

        async def poll() -> None:
            while name not in [
                e["StatusCallbackEvent"] for e in await asyncio.to_thread(events, live, receiver, room.sid)
            ]:
                await asyncio.sleep(0.2)

        await asyncio.wait_for(poll(), 20)

    async def scenario():
        alice = await join(live, "alice", "steps")
        await publish_av(alice, (0, 0, 200))
        await asyncio.sleep(1.2)  # the clock must pass: a ParticipantDuration of at least a second
        await alice.set_enabled("camera", False)
        await reported("track-disabled")
        await alice.set_enabled("camera", True)
        await reported("track-enabled")
        await alice.leave()
        return alice.sid

    alice_sid = asyncio.run(scenario())
    wait_for(
        lambda: twilio.video.v1.rooms(room.sid).fetch().status == "completed", 10, "the empty room to end"
    )
    wait_for(
        lambda: (
            events(live, receiver, room.sid)[-1:]
            and events(live, receiver, room.sid)[-1]["StatusCallbackEvent"] == "room-ended"
        ),
        10,
        "room-ended",
    )
    got = events(live, receiver, room.sid)
    names = [e["StatusCallbackEvent"] for e in got]
    assert names[:2] == ["room-created", "participant-connected"]
    assert names.count("track-added") == 2 and names.count("track-removed") == 2
    assert names.index("track-disabled") < names.index("track-enabled")
    assert names[-2:] == ["participant-disconnected", "room-ended"]
    assert [int(e["SequenceNumber"]) for e in got] == list(range(len(got)))
    for event in got:
        assert event["AccountSid"] == live.account_sid and event["RoomName"] == "steps"
        assert event["RoomStatus"] in ("in-progress", "completed")
    for event in got[1:-1]:
        assert (event["ParticipantSid"], event["ParticipantIdentity"]) == (alice_sid, "alice"), event
    disabled = got[names.index("track-disabled")]
    assert (disabled["TrackName"], disabled["TrackKind"]) == ("camera", "video")
    left = got[-2]
    assert left["ParticipantStatus"] == "disconnected" and int(left["ParticipantDuration"]) >= 1
    assert int(got[-1]["RoomDuration"]) >= 1
    participant = twilio.video.v1.rooms(room.sid).participants(alice_sid).fetch()
    assert participant.status == "disconnected" and participant.duration >= 1 and participant.end_time


def test_max_participant_duration_below_ten_minutes_is_error_53123(live):
    with pytest.raises(TwilioRestException) as caught:
        live.client().video.v1.rooms.create(unique_name="short", max_participant_duration=599)
    assert caught.value.status == 400 and caught.value.code == 53123


def test_a_recorded_track_reports_recording_started_and_completed(live, receiver):
    twilio = live.client()
    room = twilio.video.v1.rooms.create(
        unique_name="recorded-steps",
        record_participants_on_connect=True,
        empty_room_timeout=1,
        status_callback=receiver.url,
    )

    async def scenario():
        alice = await join(live, "alice", "recorded-steps")
        await alice.publish(ToneAudioTrack(440.0, MediaClock()), "microphone")
        # Media must flow: a second of it (50 Opus frames) at the SFU, for a recording that holds some.
        sfu_room = live.app.state.sfu.rooms[alice.room_sid]
        await alice.wait_until(lambda: any(t.frames >= 50 for t in sfu_room.tracks()), 30)
        await alice.leave()
        return alice.sid

    alice_sid = asyncio.run(scenario())
    wait_for(
        lambda: "recording-completed" in [e["StatusCallbackEvent"] for e in events(live, receiver, room.sid)],
        20,
        "recording-completed",
    )
    got = {e["StatusCallbackEvent"]: e for e in events(live, receiver, room.sid)}
    started, completed = got["recording-started"], got["recording-completed"]
    recording = twilio.video.v1.recordings.list(grouping_sid=[room.sid])[0]
    for event in (started, completed):
        assert (
            event["RecordingSid"] == recording.sid
            and event["RecordingUri"] == f"/v1/Recordings/{recording.sid}"
        )
        assert (event["ParticipantSid"], event["ParticipantIdentity"]) == (alice_sid, "alice")
        assert event["SourceSid"] == event["TrackSid"] == recording.source_sid
        assert (event["TrackName"], event["TrackKind"], event["Container"], event["Codec"]) == (
            "microphone",
            "audio",
            "mka",
            recording.codec,
        )
    assert int(completed["Duration"]) >= 1 and int(completed["Size"]) == recording.size
    assert completed["MediaUri"] == f"/v1/Recordings/{recording.sid}/Media"
    assert int(completed["OffsetFromTwilioVideoEpoch"]) == recording.offset
