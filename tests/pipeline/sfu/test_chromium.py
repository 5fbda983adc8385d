"""Real Chromium (Debian's /usr/bin/chromium, headless, fake camera and microphone) joins a room
through the browser page at /rooms/{name} and exchanges media with a Python participant.

The scenario runs once per room codec (VP8, H264); each test checks one thing it observed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.client import RoomClient
from pipeline.client.synthetic_tracks import MediaClock
from pipeline.sfu import SfuSettings
from tests.live_server import running_server
from tests.pipeline.sfu.conftest import DecodeErrors, publish_av

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)", allow_module_level=True)
async_api = pytest.importorskip("playwright.async_api", reason="the playwright package is not installed")

BLUE = (40, 80, 230)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    # Nothing but the test server is looked up or reached.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
# The page sends the SFU only its loopback candidates, so the SFU checks no other address.
PAGE_CONFIG = "window.roomreelConfig = {onlyCandidates: ['127.0.0.1']};"
# Mean colour of a tile's video, drawn onto a canvas: what Chromium decoded, not what it was sent.
TILE_COLOUR = """(sid) => {
  const video = document.querySelector(`.tile[data-key="${sid}"] video`);
  if (!video || !video.videoWidth) return null;
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const context = canvas.getContext("2d");
  context.drawImage(video, 0, 0);
  const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const sum = [0, 0, 0];
  let n = 0;
  for (let i = 0; i < data.length; i += 4 * 101, n++) for (let c = 0; c < 3; c++) sum[c] += data[i + c];
  return sum.map((v) => Math.round(v / n));
}"""


@dataclass
class Observed:
    """What the Python participant and the page saw; the tests assert on it."""

    codec: str
    python_sid: str = ""
    python_video: dict[str, Any] = field(default_factory=dict)
    python_audio: dict[str, Any] = field(default_factory=dict)
    page_stats: dict[str, Any] = field(default_factory=dict)
    page_state: dict[str, Any] = field(default_factory=dict)
    tile_colour: list[int] | None = None
    steps: dict[str, bool] = field(default_factory=dict)
    decode_errors: int = 0
    console: list[str] = field(default_factory=list)
    screenshot: Path | None = None
    refusal: dict[str, Any] | None = None
    removal_status: str | None = None
    seconds: float = 0.0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("chromium")
    sfu = SfuSettings(hosts=["127.0.0.1"])
    with running_server(directory, sfu=sfu, env={"ROOMREEL_DEV_TOKENS": "1"}) as live:
        yield live


@pytest.fixture(scope="module", params=["VP8", "H264"])
def observed(request, server, tmp_path_factory) -> Observed:
    codec = request.param
    room = f"browser-{codec.lower()}"
    with server.http() as http:
        created = http.post("/v1/Rooms", data={"UniqueName": room, "VideoCodecs": codec})
        assert created.status_code == 201, created.text
    result = Observed(codec)
    errors = DecodeErrors()
    logger = logging.getLogger("aiortc.rtcrtpreceiver")
    logger.addHandler(errors)
    started = time.monotonic()
    try:
        directory = tmp_path_factory.mktemp(f"page-{codec.lower()}")
        asyncio.run(asyncio.wait_for(scenario(server, room, directory, result), 60))
    finally:
        logger.removeHandler(errors)
    result.decode_errors = errors.count
    result.seconds = time.monotonic() - started
    return result


async def step(result: Observed, name: str, waiting) -> bool:
    """Await a Playwright wait (or anything that raises on timeout); note whether it came."""
    try:
        await waiting
        result.steps[name] = True
    except (TimeoutError, async_api.TimeoutError):
        result.steps[name] = False
    return result.steps[name]


async def scenario(server, room: str, directory: Path, result: Observed) -> None:
    python = await RoomClient(server.base, server.token("python", room), decode=True).connect()
    result.python_sid = python.sid
    await publish_av(python, BLUE, clock=MediaClock(flash_every=0))  # a steady colour, no flashes
    async with async_api.async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(directory / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1000, "height": 600},
            # The test reads page state through expression strings, which Playwright evaluates
            # with eval: the pages' CSP forbids it for everything but the test.
            bypass_csp=True,
        )
        try:
            await context.add_init_script(PAGE_CONFIG)
            page = context.pages[0] if context.pages else await context.new_page()
            page.on("console", lambda m: result.console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: result.console.append(f"pageerror: {e}"))
            await page.goto(f"{server.base}/rooms/{room}?identity=chromium")
            joined = "window.roomreel.status === 'joined' && !!window.roomreel.published.microphone"
            await step(result, "joined", page.wait_for_function(joined, timeout=15_000))
            result.page_state = await page.evaluate(
                "({status: roomreel.status, room: roomreel.room, error: roomreel.error,"
                " participant: roomreel.participant, published: roomreel.published})"
            )
            if not result.steps["joined"]:
                return
            await exchange(python, page, result)
            result.screenshot = directory / "room-page.png"
            await page.screenshot(path=str(result.screenshot))
            await follow_changes(server, room, python, page, result)
            await refused_token(context, server, room, result)
            await removed(server, page, result)
        finally:
            await context.close()
            await python.leave()


async def exchange(python: RoomClient, page, result: Observed) -> None:
    """Media both ways: Python decodes Chromium's camera and microphone, Chromium Python's camera."""

    def python_receives() -> bool:
        tracks = python.tracks_of("chromium")
        video = [t for t in tracks if t.kind == "video" and t.frames >= 40]
        audio = [t for t in tracks if t.kind == "audio" and t.frames >= 100]
        return bool(video and audio)

    await step(result, "python receives", python.wait_until(python_receives, 20))
    for track in python.tracks_of("chromium"):
        frame = track.last_frame
        summary = {"name": track.name, "frames": track.frames}
        if track.kind == "video" and frame is not None:
            summary.update(width=frame.width, height=frame.height)
        if track.kind == "audio" and frame is not None:
            summary.update(sample_rate=frame.sample_rate, samples=frame.samples)
        setattr(result, f"python_{track.kind}", summary)

    async def chromium_decodes() -> None:
        while True:
            stats = await page.evaluate("window.roomreel.stats()")
            result.page_stats = stats
            video = [s for s in stats["inbound"] if s["kind"] == "video" and s["identity"] == "python"]
            if video and video[0]["framesDecoded"] >= 20:
                return
            await asyncio.sleep(0.25)

    await step(result, "chromium decodes", asyncio.wait_for(chromium_decodes(), 15))
    result.tile_colour = await page.evaluate(TILE_COLOUR, python.sid)


async def follow_changes(server, room: str, python: RoomClient, page, result: Observed) -> None:
    """The page's grid follows a newcomer, disable, enable, unpublish and leave."""
    newcomer = await RoomClient(server.base, server.token("newcomer", room), decode=False).connect()
    newcomer_tile = f'.tile[data-key="{newcomer.sid}"].video-off'  # it publishes nothing
    await step(result, "newcomer shown", page.wait_for_selector(newcomer_tile, timeout=5_000))
    await newcomer.leave()
    await step(
        result, "newcomer gone", page.wait_for_selector(newcomer_tile, state="detached", timeout=5_000)
    )
    tile = f'.tile[data-key="{python.sid}"]'
    await step(result, "tile shown", page.wait_for_selector(f"{tile}:not(.video-off)", timeout=5_000))
    result.steps["tile labelled"] = (await page.text_content(f"{tile} .label")) == "python"
    await python.set_enabled("camera", False)
    await step(result, "video off shown", page.wait_for_selector(f"{tile}.video-off", timeout=5_000))
    await python.set_enabled("camera", True)
    await step(result, "video back", page.wait_for_selector(f"{tile}:not(.video-off)", timeout=5_000))
    await python.unpublish("camera")
    unpublished = "!window.roomreel.remoteTracks().some(t => t.name === 'camera')"
    await step(result, "unpublish seen", page.wait_for_function(unpublished, timeout=5_000))
    await step(result, "unpublish shown", page.wait_for_selector(f"{tile}.video-off", timeout=5_000))
    await python.leave()
    await step(result, "leave shown", page.wait_for_selector(tile, state="detached", timeout=5_000))


async def refused_token(context, server, room: str, result: Observed) -> None:
    page = await context.new_page()
    await page.goto(f"{server.base}/rooms/{room}?token=not-a-jwt")
    await step(result, "refusal shown", page.wait_for_function("roomreel.status === 'error'", timeout=5_000))
    result.refusal = await page.evaluate("roomreel.error")
    await page.close()


async def removed(server, page, result: Observed) -> None:
    """Removed through the REST API, the page says so and lets go of the room."""
    state = await page.evaluate("({room: roomreel.room.sid, me: roomreel.participant.sid})")

    def remove() -> int:
        with server.http() as http:
            url = f"/v1/Rooms/{state['room']}/Participants/{state['me']}"
            return http.post(url, data={"Status": "disconnected"}).status_code

    result.steps["removal accepted"] = await asyncio.to_thread(remove) == 202
    gone = "roomreel.status === 'disconnected' && roomreel.events.includes('disconnected')"
    await step(result, "removal shown", page.wait_for_function(gone, timeout=5_000))
    result.removal_status = await page.text_content("#status")


def test_page_and_assets_are_served(server):
    with httpx.Client(base_url=server.base) as http:
        page = http.get("/rooms/some-room")
        script = http.get("/static/room.js")
        missing = http.get("/static/secrets.py")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/room.js">' in page.text
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert missing.status_code == 404


def test_chromium_joins_and_publishes_one_layer_of_the_room_codec(observed):
    assert observed.steps.get("joined"), (observed.page_state, observed.console)
    assert observed.page_state["room"]["codec"] == observed.codec
    assert set(observed.page_state["published"]) == {"camera", "microphone"}
    outbound = observed.page_stats["outbound"]
    video = [s for s in outbound if s["kind"] == "video"]
    assert len(video) == 1, outbound  # one layer: no simulcast
    assert video[0]["codec"] == f"video/{observed.codec}"
    assert [s["codec"] for s in outbound if s["kind"] == "audio"] == ["audio/opus"]


def test_python_decodes_chromium_video_and_audio(observed):
    assert observed.steps.get("python receives"), (observed.python_video, observed.python_audio)
    assert observed.python_video["name"] == "camera" and observed.python_video["frames"] >= 40
    assert observed.python_video["width"] > 0 and observed.python_video["height"] > 0
    assert observed.python_audio["name"] == "microphone" and observed.python_audio["frames"] >= 100
    assert observed.python_audio["sample_rate"] == 48000
    assert observed.decode_errors == 0


def test_chromium_decodes_python_video(observed):
    assert observed.steps.get("chromium decodes"), observed.page_stats
    video = next(s for s in observed.page_stats["inbound"] if s["kind"] == "video")
    assert video["codec"] == f"video/{observed.codec}"
    assert video["framesDecoded"] >= 20
    assert (video["frameWidth"], video["frameHeight"]) == (320, 240)  # ColourVideoTrack's size
    assert observed.tile_colour is not None
    assert all(abs(a - b) <= 30 for a, b in zip(observed.tile_colour, BLUE)), observed.tile_colour
    audio = [s for s in observed.page_stats["inbound"] if s["kind"] == "audio"]
    assert audio and audio[0]["packetsReceived"] > 0
    assert observed.screenshot is not None and observed.screenshot.stat().st_size > 0


def test_page_follows_join_disable_enable_unpublish_and_leave(observed):
    for name in (
        "newcomer shown",
        "newcomer gone",
        "tile shown",
        "tile labelled",
        "video off shown",
        "video back",
        "unpublish seen",
        "unpublish shown",
        "leave shown",
    ):
        assert observed.steps.get(name), (name, observed.steps, observed.console)
    assert observed.steps.get("removal accepted") and observed.steps.get("removal shown"), observed.steps
    assert "53216" in observed.removal_status
    assert observed.steps.get("refusal shown") and observed.refusal["code"] == 20101, observed.refusal
    assert not [line for line in observed.console if line.startswith(("error", "pageerror"))]
    assert observed.seconds < 20, observed.seconds


def test_a_watch_only_page_publishes_nothing_and_plays_the_room(server):
    """`/rooms/NAME?publish=0`: a viewer asks for no camera or microphone and still plays the room."""

    async def scenario():
        python = await RoomClient(server.base, server.token("python", "watching"), decode=False).connect()
        await publish_av(python, BLUE, clock=MediaClock(flash_every=0))
        async with async_api.async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                context = await browser.new_context(bypass_csp=True)
                await context.add_init_script(PAGE_CONFIG)
                page = await context.new_page()
                await page.goto(f"{server.base}/rooms/watching?identity=viewer&publish=0")
                await page.wait_for_function("window.roomreel.status === 'joined'", timeout=15_000)
                stats: dict = {"inbound": []}
                for _ in range(60):
                    stats = await page.evaluate("window.roomreel.stats()")
                    if any(s["kind"] == "video" and s["framesDecoded"] >= 20 for s in stats["inbound"]):
                        break
                    await asyncio.sleep(0.25)
                state = await page.evaluate(
                    "({published: Object.keys(roomreel.published), me: roomreel.participant.sid,"
                    " room: roomreel.room.sid})"
                )
                state["stats"] = stats
            finally:
                await browser.close()
                await python.leave()
        return state

    state = asyncio.run(scenario())
    video = [s for s in state["stats"]["inbound"] if s["kind"] == "video"]
    assert video and video[0]["framesDecoded"] >= 20, state["stats"]
    assert not state["stats"]["outbound"]  # it sends no media at all
    assert state["published"] == []
    with httpx.Client(base_url=server.base, auth=(server.account_sid, server.auth_token)) as http:
        tracks = http.get(f"/v1/Rooms/{state['room']}/Participants/{state['me']}/PublishedTracks").json()
    assert tracks["published_tracks"] == []
