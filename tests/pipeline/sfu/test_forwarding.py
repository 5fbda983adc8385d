"""Participants exchange media through the SFU, which forwards it without decoding."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from tests.pipeline.sfu.conftest import join, leave_all, publish_av
from tests.waiting import until_quiet

RED, GREEN, BLUE = (220, 40, 40), (40, 200, 60), (40, 80, 230)


def mean_rgb(frame) -> tuple[int, int, int]:
    rgb = frame.to_ndarray(format="rgb24")
    return tuple(int(v) for v in rgb.reshape(-1, 3).mean(axis=0))


def close_to(colour, expected, tolerance=30) -> bool:
    return bool(np.all(np.abs(np.array(colour) - np.array(expected)) <= tolerance))


def test_three_participants_exchange_audio_and_video(live, decode_errors):
    async def scenario():
        people = [await join(live, name, "three") for name in ("alice", "bob", "carol")]
        for person, colour, tone in zip(people, (RED, GREEN, BLUE), (300, 500, 700)):
            await publish_av(person, colour, tone)

        def everyone_receives() -> bool:
            return all(len([t for t in p.remote.values() if t.frames > 20]) == 4 for p in people)

        await people[0].wait_until(everyone_receives, 20)
        colours = {
            (p.identity, t.identity): mean_rgb(t.last_frame)
            for p in people
            for t in p.remote.values()
            if t.kind == "video"
        }
        await leave_all(*people)
        return colours

    colours = asyncio.run(scenario())
    expected = {"alice": RED, "bob": GREEN, "carol": BLUE}
    assert len(colours) == 6
    for (_viewer, publisher), colour in colours.items():
        assert close_to(colour, expected[publisher]), (publisher, colour)
    assert decode_errors.count == 0


def test_an_h264_room_forwards_python_participants_video(live, decode_errors):
    live.client().video.v1.rooms.create(unique_name="h264-room", video_codecs=["H264"])

    async def scenario():
        alice, bob = await join(live, "alice", "h264-room"), await join(live, "bob", "h264-room")
        await publish_av(alice, RED)
        await bob.wait_until(
            lambda: any(t.kind == "video" and t.frames > 20 for t in bob.remote.values()), 20
        )
        video = next(t for t in bob.remote.values() if t.kind == "video")
        transceiver = next(t for t in bob._subscriber.getTransceivers() if t.kind == "video")
        codec = transceiver._codecs[0].mimeType
        colour = mean_rgb(video.last_frame)
        await leave_all(alice, bob)
        return codec, colour

    codec, colour = asyncio.run(scenario())
    assert codec.lower() == "video/h264"
    assert close_to(colour, RED), colour
    assert decode_errors.count == 0


def test_forwarding_never_decodes(live):
    async def scenario():
        alice, bob = await join(live, "alice", "passthrough"), await join(live, "bob", "passthrough")
        await publish_av(alice, RED)
        await bob.wait_until(lambda: all(t.frames > 10 for t in bob.remote.values()) and len(bob.remote) == 2)
        room = live.app.state.sfu.rooms[alice.room_sid]
        published = {t.kind: t for t in room.tracks()}
        receivers = [t.receiver for t in published.values()]
        counts = {kind: t.frames for kind, t in published.items()}
        await leave_all(alice, bob)
        return counts, receivers

    counts, receivers = asyncio.run(scenario())
    # Frames reached the tracks through the frame assembler; aiortc's decoder queue got none.
    assert counts["video"] > 10 and counts["audio"] > 10
    for receiver in receivers:
        assert receiver._RTCRtpReceiver__decoder_queue.qsize() == 0
        assert type(receiver._RTCRtpReceiver__jitter_buffer).__name__ == "FrameAssembler"


def test_late_joiner_starts_on_a_keyframe_within_one_second(live):
    async def scenario():
        alice = await join(live, "alice", "late")
        await publish_av(alice, RED)
        # Well past the first keyframe (a second of frames at the SFU): the encoder's next one is
        # thousands of frames away, so only a PLI brings one to the late joiner.
        room = live.app.state.sfu.rooms[alice.room_sid]
        await alice.wait_until(lambda: any(t.kind == "video" and t.frames >= 15 for t in room.tracks()), 30)
        bob = await join(live, "bob", "late", decode=False)
        joined = time.time()
        await bob.wait_until(lambda: any(t.kind == "video" and t.frames for t in bob.remote.values()), 5)
        video = next(t for t in bob.remote.values() if t.kind == "video")
        delay = video.first_frame_at - joined
        await leave_all(alice, bob)
        return video.first_keyframe_first, delay

    keyframe_first, delay = asyncio.run(scenario())
    assert keyframe_first is True
    assert delay < 1.0


def test_disabling_a_track_stops_its_frames_and_enabling_resumes_them(live):
    async def scenario():
        alice, bob = await join(live, "alice", "mute"), await join(live, "bob", "mute")
        await publish_av(alice, RED)
        await bob.wait_until(lambda: all(t.frames > 10 for t in bob.remote.values()) and len(bob.remote) == 2)
        video = next(t for t in bob.remote.values() if t.kind == "video")
        await alice.set_enabled("camera", False)
        await bob.wait_until(lambda: not video.enabled)
        await until_quiet(lambda: video.frames)  # frames already in flight when it was disabled arrive
        paused_at = video.frames
        await asyncio.sleep(1.5)  # the time must pass: no frames come in it
        during = video.frames - paused_at
        await alice.set_enabled("camera", True)
        await bob.wait_until(lambda: video.enabled)
        await bob.wait_until(lambda: video.frames > paused_at + during + 10, 5)
        audio = next(t for t in bob.remote.values() if t.kind == "audio")
        await leave_all(alice, bob)
        return during, audio.frames

    during, audio_frames = asyncio.run(scenario())
    assert during == 0
    assert audio_frames > 100  # the other track kept flowing


def test_leaving_and_rejoining(live):
    async def scenario():
        alice, bob = await join(live, "alice", "rejoin"), await join(live, "bob", "rejoin")
        await publish_av(alice, RED)
        await bob.wait_until(lambda: len([t for t in bob.remote.values() if t.frames > 5]) == 2)
        await alice.leave()
        await bob.wait_until(lambda: not bob.participants)
        gone = all(not t.published for t in bob.remote.values())
        alice = await join(live, "alice", "rejoin")
        await publish_av(alice, GREEN)
        fresh = lambda: [t for t in bob.remote.values() if t.published and t.frames > 5]  # noqa: E731
        await bob.wait_until(lambda: len(fresh()) == 2, 10)
        colour = mean_rgb(next(t for t in fresh() if t.kind == "video").last_frame)
        await leave_all(alice, bob)
        return gone, colour

    gone, colour = asyncio.run(scenario())
    assert gone
    assert close_to(colour, GREEN)


def test_data_tracks_are_relayed(live):
    async def scenario():
        alice, bob = await join(live, "alice", "data"), await join(live, "bob", "data")
        channel = await alice.publish_data("chat")
        await alice.wait_until(lambda: channel.readyState == "open")
        await bob.wait_until(lambda: any(t.kind == "data" for t in bob.remote.values()))
        track = next(t for t in bob.remote.values() if t.kind == "data")
        for i in range(20):  # until one arrives (a poll: the first may go before bob listens)
            channel.send(f"hello {i}")
            await asyncio.sleep(0.1)
            if track.messages:
                break
        await bob.wait_until(lambda: bool(track.messages))
        await leave_all(alice, bob)
        return track.messages

    messages = asyncio.run(scenario())
    assert messages[0].startswith("hello")


def test_a_late_joiner_receives_every_track_of_every_publisher(live):
    """Two tracks of one kind in one offer (aiortc needed max-bundle on both sides for this)."""

    async def scenario():
        alice, bob = await join(live, "alice", "late-many"), await join(live, "bob", "late-many")
        await publish_av(alice, RED)
        await publish_av(bob, GREEN)
        room = live.app.state.sfu.rooms[alice.room_sid]  # all four tracks flowing before carol joins
        await alice.wait_until(lambda: len(room.tracks()) == 4 and all(t.frames for t in room.tracks()), 30)
        carol = await join(live, "carol", "late-many", decode=False)
        await carol.wait_until(lambda: len([t for t in carol.remote.values() if t.frames > 20]) == 4, 10)
        counts = {(t.identity, t.kind): t.frames for t in carol.remote.values()}
        await leave_all(alice, bob, carol)
        return counts

    counts = asyncio.run(scenario())
    assert len(counts) == 4 and all(n > 20 for n in counts.values())
    # Each audio stream reached its own receiver (not both the first one).
    assert max(counts[("alice", "audio")], counts[("bob", "audio")]) < 2.5 * min(
        counts[("alice", "audio")], counts[("bob", "audio")]
    )
