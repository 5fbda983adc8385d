"""A room recorded live through the SFU, whose levels come from its packets, and the same room
without them, whose levels are computed from its decoded audio, switch the speaker at the same
moments (#15): within 0.5 s, turn by turn."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import layouts
from pipeline.client.synthetic_tracks import ColourVideoTrack, MediaClock, ToneAudioTrack
from pipeline.media import level_meter
from pipeline.media.levels import LevelTimeline, levels_name
from pipeline.media.manifest import load_manifest
from pipeline.media.speech import room_speech
from tests.pipeline.sfu.conftest import join, leave_all
from tests.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.media]
TURNS = {
    "alice": ((220, 40, 40), [(0.5, 3.0)]),
    "bob": ((40, 200, 40), [(1.5, 1.65), (4.0, 6.5)]),  # a cough, then his turn
    "carol": ((40, 40, 220), [(7.5, 10.0)]),
}


def speaker_switches(data: dict, speech) -> list[tuple[float, str]]:
    """(output time, participant SID) each time the speaker region's picture changes hands."""
    plan = layouts.plan_for_manifest(data, "speaker", "1280x720", ["*"], [], speech=speech)
    owner = {r["sid"]: r.get("participant_sid") for r in data["recordings"]}
    switches: list[tuple[float, str]] = []
    for segment in plan.segments:
        main = next((t for t in segment.tiles if t.region == "speaker"), None)
        who = owner.get(main.source) if main else None
        if who and (not switches or switches[-1][1] != who):
            switches.append((segment.start, who))
    return switches


def test_packet_levels_and_decoded_levels_switch_together(live, tmp_path):
    twilio = live.client()
    room = twilio.video.v1.rooms.create(
        unique_name="levels-agree", record_participants_on_connect=True, unused_room_timeout=60,
        empty_room_timeout=60,
    )  # fmt: skip

    async def scenario():
        clock = MediaClock(flash_every=0)
        bots = []
        for identity, (colour, talks) in TURNS.items():
            bot = await join(live, identity, "levels-agree", decode=False)
            await bot.publish(ColourVideoTrack(colour, clock), "camera")
            await bot.publish(ToneAudioTrack(440.0, clock, talks), "microphone")
            bots.append(bot)
        await clock.sleep_until(11.0)
        await leave_all(*bots)

    asyncio.run(scenario())
    twilio.video.v1.rooms(room.sid).update(status="completed")
    directory = Path(live.settings.storage_url.removeprefix("file://")) / "rooms" / room.sid
    wait_for(lambda: (directory / "room.json").exists(), 60, "the room manifest")
    manifest = load_manifest(directory)
    recordings = manifest.data["recordings"]
    audio = [r for r in recordings if r["kind"] == "audio"]
    assert len(audio) == 3

    from_packets = {r["sid"]: LevelTimeline.load(directory / levels_name(r["sid"])) for r in audio}
    decoded = {r["sid"]: level_meter.measure(directory / r["media"]) for r in audio}
    assert {t.source for t in from_packets.values()} == {"rtp"}
    live_switches = speaker_switches(manifest.data, room_speech(recordings, from_packets))
    imported_switches = speaker_switches(manifest.data, room_speech(recordings, decoded))

    assert [who for _, who in live_switches] == [who for _, who in imported_switches]
    assert len(live_switches) >= 3, live_switches
    for (a, _), (b, _) in zip(live_switches, imported_switches, strict=True):
        assert abs(a - b) <= 0.5, (live_switches, imported_switches)
