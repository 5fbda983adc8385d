"""Real Chromium (fake camera and microphone) is recorded: its VP8 and Opus files decode cleanly."""

from __future__ import annotations

import asyncio

import av
import pytest

from tests.pipeline.sfu.test_chromium import CHROMIUM, CHROMIUM_ARGS, PAGE_CONFIG, async_api

pytestmark = pytest.mark.media


async def chromium_in_room(live, room: str, directory, seconds: float) -> None:
    async with async_api.async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(directory / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            bypass_csp=True,  # expression strings are evaluated with eval, which the page's CSP forbids
        )
        try:
            await context.add_init_script(PAGE_CONFIG)
            page = context.pages[0] if context.pages else await context.new_page()
            token = live.token("chromium", room)
            await page.goto(f"{live.base}/rooms/{room}?identity=chromium&token={token}")
            joined = "window.roomreel.status === 'joined' && !!window.roomreel.published.microphone"
            await page.wait_for_function(joined, timeout=15_000)
            await asyncio.sleep(seconds)  # media must flow: the recordings last this long
        finally:
            await context.close()


@pytest.mark.parametrize("codec", ["VP8", "H264"])
def test_chromium_is_recorded_without_decode_errors(live, tmp_path, codec):
    twilio = live.client()
    # The fixture's "minutes" are 0.5 s: without a long UnusedRoomTimeout, a slow Chromium start
    # found the room ended and joined a new ad hoc one of the same name, which records nothing.
    room = twilio.video.v1.rooms.create(
        unique_name=f"chromium-recorded-{codec}",
        record_participants_on_connect=True,
        video_codecs=[codec],
        unused_room_timeout=60,
    )
    asyncio.run(chromium_in_room(live, room.unique_name, tmp_path, 4.0))
    twilio.video.v1.rooms(room.sid).update(status="completed")
    recordings = twilio.video.v1.rooms(room.sid).recordings.list()
    assert sorted((r.type, r.container_format, r.codec.upper(), r.status) for r in recordings) == [
        ("audio", "mka", "OPUS", "completed"),
        ("video", "mkv", codec, "completed"),
    ]
    storage = live.app.state.services.storage
    for r in recordings:
        path = storage.get_file(f"rooms/{room.sid}/{r.sid}.{r.container_format}", tmp_path / r.sid)
        errors, frames = 0, []
        with av.open(str(path)) as container:
            stream = container.streams[0]
            for packet in container.demux(stream):
                try:
                    frames += packet.decode()
                except av.FFmpegError:
                    errors += 1
        assert errors == 0, r.type
        if r.type == "video":
            # The fake camera: 640x480 at about 20 fps (one layer; simulcast would shrink it).
            assert len(frames) >= 40
            assert (frames[-1].width, frames[-1].height) == (640, 480)
        else:
            assert len(frames) >= 150 and frames[0].sample_rate == 48_000
