"""Live: bots talking in turns (with a cough) make the SFU announce each turn to /v1/signal
clients, in order, from the levels in their packets; the recorder keeps each track's levels."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.client.synthetic_tracks import MediaClock, ToneAudioTrack
from pipeline.media.levels import SILENCE, LevelTimeline, levels_key
from pipeline.metrics import SPEAKER_CHANGES
from tests.pipeline.sfu.conftest import join, leave_all
from tests.waiting import wait_for

pytestmark = pytest.mark.slow
TURNS = {"alice": [(1.0, 3.5)], "bob": [(2.0, 2.15), (4.0, 6.5)], "carol": [(7.0, 9.5)]}


def test_three_bots_talking_in_turns_are_announced_in_order_and_their_levels_recorded(live, tmp_path):
    twilio = live.client()
    room = twilio.video.v1.rooms.create(
        unique_name="turns",
        record_participants_on_connect=True,
        unused_room_timeout=60,
        empty_room_timeout=60,
    )
    before = SPEAKER_CHANGES._value.get()

    async def scenario():
        listener = await join(live, "listener", "turns", decode=False)
        speakers = []
        clock = MediaClock(flash_every=0)
        for identity, talks in TURNS.items():
            bot = await join(live, identity, "turns", decode=False)
            await bot.publish(ToneAudioTrack(440.0, clock, talks), "microphone")
            speakers.append(bot)
        await clock.sleep_until(10.0)
        said = [m for m in listener.messages if m["type"] == "dominant_speaker"]
        await leave_all(listener, *speakers)
        return said, {bot.sid: bot.identity for bot in speakers}

    said, names = asyncio.run(scenario())
    order = [m["identity"] for m in said if m["identity"]]
    assert order == ["alice", "bob", "carol"], said
    assert SPEAKER_CHANGES._value.get() - before >= 3

    twilio.video.v1.rooms(room.sid).update(status="completed")
    recordings = wait_for(
        lambda: (
            (rs := twilio.video.v1.rooms(room.sid).recordings.list())
            and all(r.status == "completed" for r in rs)
            and rs
        ),
        30,
        "the recordings",
    )
    storage = live.app.state.services.storage
    for recording in recordings:
        who = names[recording.grouping_sids["participant_sid"]]
        path = storage.get_file(levels_key(room.sid, recording.sid), tmp_path / f"{recording.sid}.json")
        timeline = LevelTimeline.load(path)
        talked = sum(end - start for start, end in TURNS[who])
        speaking = sum(1 for v in timeline.values if v < SILENCE - 40) / timeline.rate
        assert timeline.rate == 20 and timeline.source == "rtp"
        assert talked - 0.4 <= speaking <= talked + 0.4, (who, speaking, talked)
