"""/quickstart (#13): Twilio's quickstart flow on the real twilio-video.js, served by roomreel:
two people join from the page, see and hear each other, mute, and leave."""

from __future__ import annotations

import pytest

from tests.pipeline.sfu.twilio.sdk_browser import SdkBrowser
from tests.twilio_sdk import sdk_script
from tests.waiting import wait_for

pytestmark = [pytest.mark.media, pytest.mark.slow]


@pytest.fixture
def sdk_served(live, monkeypatch):
    monkeypatch.setenv("ROOMREEL_TWILIO_VIDEO_JS", str(sdk_script()))
    return live


def test_without_the_sdk_configured_the_page_says_how_to_get_it(live, monkeypatch):
    import httpx

    monkeypatch.delenv("ROOMREEL_TWILIO_VIDEO_JS", raising=False)
    missing = httpx.get(f"{live.base}/quickstart/twilio-video.min.js")
    assert missing.status_code == 404 and "npm pack twilio-video@2.36.0" in missing.json()["message"]
    page = httpx.get(f"{live.base}/quickstart")
    assert (
        page.status_code == 200
        and "Twilio.Video.connect" in httpx.get(f"{live.base}/static/quickstart.js").text
    )


def test_two_people_join_from_the_quickstart_mute_and_leave(sdk_served):
    live = sdk_served
    browser = SdkBrowser(live.base)
    try:
        pages = []
        for identity in ("alice", "bob"):
            page = browser.browser.new_context().new_page()
            token = live.token(identity, "quickstart")
            page.goto(f"{live.base}/quickstart?identity={identity}&room=quickstart&token={token}&autojoin=1")
            page.wait_for_function("() => window.quickstart.status === 'connected'", timeout=20_000)
            pages.append(page)
        alice, bob = pages
        playing = """(who) => {
          const video = document.querySelector(`#remote [data-identity="${who}"] video`);
          return video ? video.getVideoPlaybackQuality().totalVideoFrames : 0;
        }"""
        wait_for(lambda: alice.evaluate(playing, "bob") > 10, 20, "bob's video in alice's quickstart")
        wait_for(lambda: bob.evaluate(playing, "alice") > 10, 20, "alice's video in bob's quickstart")
        alice.click("#mute")
        room_sid = alice.evaluate("() => window.quickstart.room.sid")
        published = live.client().video.v1.rooms(room_sid).participants("alice").published_tracks.list()
        wait_for(
            lambda: any(
                t.kind == "audio" and not t.enabled
                for t in live.client().video.v1.rooms(room_sid).participants("alice").published_tracks.list()
            ),
            10,
            "alice's microphone to show disabled through the REST API",
        )
        assert len(published) == 2
        alice.click("#leave")
        alice.wait_for_function("() => window.quickstart.status === 'disconnected'", timeout=10_000)
        wait_for(lambda: bob.evaluate("() => document.querySelectorAll('#remote .tile').length") == 0, 10,
                 "alice's tile to leave bob's page")  # fmt: skip
    finally:
        browser.close()
