"""Unmodified twilio-video.js 2.36 (the npm package, in Chromium) joins roomreel rooms through
`/signaling`, with only `wsServer` and `insights: false` added to its connect options; the
official `twilio` client reads the same rooms through the REST API."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading

import pytest

from pipeline.sfu.access_token import mint
from tests.pipeline.sfu.twilio.sdk_browser import SdkBrowser, connect, events
from tests.waiting import wait_for

pytestmark = [pytest.mark.media, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser(live):
    sdk = SdkBrowser(live.base)
    yield sdk
    sdk.close()


def frames(page, identity: str) -> int:
    return page.evaluate("(who) => window.tv.frames(who, 'video')", identity)


def test_two_sdk_participants_see_each_other_as_the_rest_api_does(live, browser):
    alice, bob = browser.page(), browser.page()
    joined_alice = connect(alice, live.token("alice", "sdk-pair"), name="sdk-pair")
    assert joined_alice["ok"], joined_alice
    joined_bob = connect(bob, live.token("bob", "sdk-pair"), name="sdk-pair")
    assert joined_bob["ok"], joined_bob
    client = live.client()
    room = client.video.v1.rooms(joined_alice["sid"]).fetch()
    assert (room.unique_name, room.status, joined_alice["name"]) == ("sdk-pair", "in-progress", "sdk-pair")
    assert joined_bob["sid"] == room.sid
    rest = {p.identity: p.sid for p in client.video.v1.rooms(room.sid).participants.list(status="connected")}
    assert rest == {"alice": joined_alice["participant"], "bob": joined_bob["participant"]}
    published = (
        client.video.v1.rooms(room.sid).participants(joined_alice["participant"]).published_tracks.list()
    )
    assert {(t.sid, t.kind) for t in published} == {(t["sid"], t["kind"]) for t in joined_alice["tracks"]}

    wait_for(lambda: len(events(alice, "trackSubscribed")) == 2, 20, "alice to subscribe to bob's tracks")
    wait_for(lambda: len(events(bob, "trackSubscribed")) == 2, 20, "bob to subscribe to alice's tracks")
    assert {e["sid"] for e in events(bob, "trackSubscribed")} == {t["sid"] for t in joined_alice["tracks"]}
    wait_for(lambda: frames(alice, "bob") > 10, 20, "bob's video to play at alice")
    wait_for(lambda: frames(bob, "alice") > 10, 20, "alice's video to play at bob")
    wait_for(
        lambda: alice.evaluate("() => window.tv.frames('bob', 'audio')") > 0.5, 20, "bob's audio to play"
    )
    subscribed = (
        client.video.v1.rooms(room.sid).participants(joined_bob["participant"]).subscribed_tracks.list()
    )
    assert {t.sid for t in subscribed} == {t["sid"] for t in joined_alice["tracks"]}

    # Mute and unmute: signalling only, the other side is told.
    bob.evaluate("() => window.tv.setEnabled('video', false)")
    wait_for(lambda: events(alice, "trackDisabled"), 10, "alice to see bob's camera off")
    video_sid = next(t["sid"] for t in joined_bob["tracks"] if t["kind"] == "video")
    assert events(alice, "trackDisabled")[0]["sid"] == video_sid
    track = (
        client.video.v1.rooms(room.sid)
        .participants(joined_bob["participant"])
        .published_tracks(video_sid)
        .fetch()
    )
    assert track.enabled is False
    bob.evaluate("() => window.tv.setEnabled('video', true)")
    wait_for(lambda: events(alice, "trackEnabled"), 10, "alice to see bob's camera on")

    # Leaving: the other side hears it, REST records it.
    bob.evaluate("() => window.tv.leave()")
    wait_for(lambda: events(alice, "participantDisconnected"), 10, "alice to see bob leave")
    wait_for(
        lambda: (
            client.video.v1.rooms(room.sid).participants(joined_bob["participant"]).fetch().status
            == "disconnected"
        ),
        10,
        "bob disconnected in REST",
    )

    # The room ends through REST: the SDK's Room disconnects with RoomCompletedError.
    client.video.v1.rooms(room.sid).update(status="completed")
    wait_for(lambda: events(alice, "disconnected"), 10, "alice's room to end")
    assert events(alice, "disconnected")[0]["code"] == 53118


def test_refusals_carry_the_codes_the_sdk_knows(live, browser):
    page = browser.page()
    key = live._key
    assert connect(page, "not-a-jwt", name="refused")["code"] == 20101
    expired = mint(live.account_sid, key.sid, key.secret, "alice", "refused", ttl=-60)
    assert connect(page, expired, name="refused")["code"] == 20104
    assert connect(page, live.token("alice", "another-room"), name="refused")["code"] == 53106
    client = live.client()
    small = client.video.v1.rooms.create(unique_name="sdk-small", max_participants=1, unused_room_timeout=60)
    assert connect(browser.page(), live.token("first", "sdk-small"), name="sdk-small")["ok"]
    full = connect(page, live.token("second", "sdk-small"), name="sdk-small")
    assert full["code"] == 53105, full
    client.video.v1.rooms(small.sid).update(status="completed")
    ended = connect(page, live.token("late", small.sid), name=small.sid)
    assert ended["code"] == 53118, ended


def test_an_sdk_participant_and_a_roomreel_bot_exchange_media(live, browser):
    page = browser.page()
    assert connect(page, live.token("alice", "sdk-bot"), name="sdk-bot")["ok"]
    bot = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "bot", "--url", live.base, "--room", "sdk-bot", "--identity", "bot",
         "--token", live.token("bot", "sdk-bot"), "--duration", "6", "--colour", "#dc2828"],
        capture_output=True, text=True, timeout=60, cwd=live.settings.data_dir,
    )  # fmt: skip
    assert bot.returncode == 0, bot.stderr
    received = json.loads(bot.stdout)["received"]
    assert len(received) == 2 and min(received.values()) > 10, received  # alice's audio and video
    colours = [e for e in events(page, "trackSubscribed") if e["participant"] == "bot"]
    assert {e["kind"] for e in colours} == {"audio", "video"}


def test_an_sdk_participant_is_recorded(live, browser):
    client = live.client()
    room = client.video.v1.rooms.create(
        unique_name="sdk-recorded", record_participants_on_connect=True, unused_room_timeout=60
    )
    page = browser.page()
    assert connect(page, live.token("alice", "sdk-recorded"), name="sdk-recorded")["ok"]
    wait_for(lambda: page.evaluate("() => window.room.localParticipant.tracks.size") == 2, 10, "publishing")
    page.wait_for_timeout(3000)  # media must flow: the recordings last 2 s or more
    client.video.v1.rooms(room.sid).update(status="completed")
    recordings = client.video.v1.rooms(room.sid).recordings.list()
    assert sorted((r.type, r.container_format, r.status) for r in recordings) == [
        ("audio", "mka", "completed"),
        ("video", "mkv", "completed"),
    ]
    assert all(r.duration >= 2 for r in recordings), [r.duration for r in recordings]


def test_a_dropped_socket_resumes_with_sync(live, browser):
    alice, bob = browser.page(), browser.page()
    joined = connect(alice, live.token("alice", "sdk-resume"), name="sdk-resume")
    assert joined["ok"] and connect(bob, live.token("bob", "sdk-resume"), name="sdk-resume")["ok"]
    wait_for(lambda: frames(alice, "bob") > 10, 20, "bob's video at alice")
    room = live.app.state.sfu.rooms[joined["sid"]]
    participant = room.participants[joined["participant"]]
    # The server drops alice's socket as a network would (not with 1000, a clean end).
    loop = participant.negotiator._loop.get_loop()
    asyncio.run_coroutine_threadsafe(participant.signals.tcmp.close(4000, "dropped"), loop).result(5)
    wait_for(lambda: events(alice, "reconnected"), 20, "alice to reconnect")
    assert [e["event"] for e in events(alice) if e["event"].startswith("reconnect")] == [
        "reconnecting",
        "reconnected",
    ]
    assert not events(alice, "disconnected") and not events(bob, "participantDisconnected")
    before = frames(alice, "bob")
    wait_for(lambda: frames(alice, "bob") > before + 10, 20, "bob's video to go on at alice")
    status = live.client().video.v1.rooms(joined["sid"]).participants(joined["participant"]).fetch().status
    assert status == "connected"
    # Still one session: a change after the resume reaches the others.
    alice.evaluate("() => window.tv.setEnabled('audio', false)")
    wait_for(lambda: events(bob, "trackDisabled"), 10, "bob to see alice muted after the resume")


def test_tracks_published_later_data_included(live, browser):
    alice, bob = browser.page(), browser.page()
    joined = connect(alice, live.token("alice", "sdk-later"), name="sdk-later")
    assert joined["ok"] and connect(bob, live.token("bob", "sdk-later"), name="sdk-later")["ok"]
    wait_for(lambda: len(events(bob, "trackSubscribed")) == 2, 20, "bob to subscribe to alice's first tracks")

    data_sid = alice.evaluate("() => window.tv.publishData()")
    assert data_sid.startswith("MT")
    wait_for(
        lambda: any(e["kind"] == "data" for e in events(bob, "trackSubscribed")),
        20,
        "bob to get the data track",
    )
    for i in range(3):
        alice.evaluate("(text) => window.tv.send(text)", f"hello {i}")
    wait_for(lambda: len(events(bob, "message")) == 3, 10, "bob to receive alice's messages")
    assert [e["data"] for e in events(bob, "message")] == ["hello 0", "hello 1", "hello 2"]

    def published() -> list:
        return (
            live.client()
            .video.v1.rooms(joined["sid"])
            .participants(joined["participant"])
            .published_tracks.list()
        )

    camera_sid = alice.evaluate("() => window.tv.publishCamera('screen')")
    wait_for(
        lambda: any(e["sid"] == camera_sid for e in events(bob, "trackSubscribed")),
        20,
        "bob to get the screen",
    )
    rest = published()
    assert {t.name for t in rest} >= {"screen"} and {t.sid for t in rest} >= {data_sid, camera_sid}
    alice.evaluate("() => window.tv.unpublishCamera()")
    wait_for(
        lambda: any(e["sid"] == camera_sid for e in events(bob, "trackUnpublished")),
        20,
        "bob to lose the screen",
    )
    rest = published()
    assert camera_sid not in {t.sid for t in rest}


def test_a_participant_removed_through_rest_is_disconnected(live, browser):
    alice, bob = browser.page(), browser.page()
    joined = connect(alice, live.token("alice", "sdk-removed"), name="sdk-removed")
    removed = connect(bob, live.token("bob", "sdk-removed"), name="sdk-removed")
    assert joined["ok"] and removed["ok"]
    assert removed["sid"] == joined["sid"], (joined, removed)
    client = live.client()
    wait_for(
        lambda: (
            {p.sid for p in client.video.v1.rooms(joined["sid"]).participants.list(status="connected")}
            == {joined["participant"], removed["participant"]}
        ),
        10,
        "both participants connected in REST",
    )
    client.video.v1.rooms(joined["sid"]).participants(removed["participant"]).update(status="disconnected")
    wait_for(lambda: events(bob, "disconnected"), 10, "bob to be disconnected")
    assert events(bob, "disconnected")[0]["code"] == 53216
    wait_for(lambda: events(alice, "participantDisconnected"), 10, "alice to see bob go")
    assert (
        client.video.v1.rooms(joined["sid"]).participants(removed["participant"]).fetch().status
        == "disconnected"
    )


def test_dominant_speaker_changes_reach_the_sdk_in_order(live, browser):
    """The SDK's `dominantSpeaker: true` asks for the active_speaker channel; bots talking in
    turns (levels in their packets) become room.dominantSpeaker one after the other."""
    from pipeline.client.synthetic_tracks import MediaClock, ToneAudioTrack
    from tests.pipeline.sfu.conftest import join, leave_all

    page = browser.page()
    joined = connect(
        page, live.token("listener", "sdk-speakers"), name="sdk-speakers", audio=False, video=False,
        dominantSpeaker=True,
    )  # fmt: skip
    assert joined["ok"], joined

    async def talk():
        clock = MediaClock(flash_every=0)
        bots = []
        for identity, talks in (("alice", [(1.0, 3.0)]), ("bob", [(1.8, 1.95), (3.5, 5.5)])):
            bot = await join(live, identity, "sdk-speakers", decode=False)
            await bot.publish(ToneAudioTrack(440.0, clock, talks), "microphone")
            bots.append(bot)
        await clock.sleep_until(6.5)
        await leave_all(*bots)

    # Playwright's sync API holds this thread's event loop: the bots run on their own.
    bots = threading.Thread(target=lambda: asyncio.run(talk()))
    bots.start()
    bots.join(30)
    order = [e["identity"] for e in events(page, "dominantSpeakerChanged") if e["identity"]]
    assert order == ["alice", "bob"], events(page, "dominantSpeakerChanged")
    page.evaluate("() => window.tv.leave()")


def test_an_app_with_typical_options_joins_and_plays(live, browser):
    """Options apps commonly pass (simulcast, a bandwidth profile, network quality) need channels
    roomreel does not offer; the SDK then leaves those features silent and media still flows."""
    options = dict(
        preferredVideoCodecs=[{"codec": "VP8", "simulcast": True}],
        bandwidthProfile={"video": {"mode": "collaboration", "dominantSpeakerPriority": "high"}},
        networkQuality={"local": 1, "remote": 1},
        dominantSpeaker=True,
        maxAudioBitrate=16000,
    )
    alice, bob = browser.page(), browser.page()
    for page, identity in ((alice, "alice"), (bob, "bob")):
        joined = connect(page, live.token(identity, "sdk-typical"), name="sdk-typical", **options)
        assert joined["ok"], joined
    wait_for(lambda: frames(alice, "bob") > 10, 20, "bob's video to play at alice")
    wait_for(lambda: frames(bob, "alice") > 10, 20, "alice's video to play at bob")
    # Alice's browser offers simulcast encodings (one SSRC each); bob gets one of them, whole:
    # one steady size, every frame received decoded (encodings mixed into one stream would not
    # decode), no keyframe asked for after the first.
    assert len(alice.evaluate(OUTBOUND_VIDEO)) == 3
    first = bob.evaluate(INBOUND_VIDEO)
    bob.wait_for_timeout(3000)
    (last,) = bob.evaluate(INBOUND_VIDEO)
    assert last["received"] > first[0]["received"] + 30
    assert (last["width"], last["height"]) == (first[0]["width"], first[0]["height"])
    assert last["decoded"] >= last["received"] - 2 and not last["dropped"], last
    assert last["pli"] == 0, last
    # The server is the DTLS server of the SDK's connection, so the cipher is AES-GCM, not the
    # AES-CM + HMAC-SHA1 Chromium picks when it is the server (rtc_adapter.answer_as_dtls_server).
    assert bob.evaluate(SRTP_CIPHER) == "SRTP_AEAD_AES_256_GCM"
    for page in (alice, bob):
        page.evaluate("() => window.tv.leave()")


SRTP_CIPHER = """async () => {
  const pc = [...window.room._signaling._peerConnectionManager._peerConnections.values()][0]._peerConnection;
  let cipher = null;
  (await pc.getStats()).forEach((s) => { if (s.type === "transport") cipher = s.srtpCipher; });
  return cipher;
}"""
OUTBOUND_VIDEO = """async () => {
  const pc = [...window.room._signaling._peerConnectionManager._peerConnections.values()][0]._peerConnection;
  const out = [];
  (await pc.getStats()).forEach((s) => {
    if (s.type === "outbound-rtp" && s.kind === "video") out.push({ssrc: s.ssrc, rid: s.rid, width: s.frameWidth, sent: s.framesSent});
  });
  return out;
}"""
INBOUND_VIDEO = """async () => {
  const pc = [...window.room._signaling._peerConnectionManager._peerConnections.values()][0]._peerConnection;
  const out = [];
  (await pc.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video") out.push({width: s.frameWidth, height: s.frameHeight, received: s.framesReceived, decoded: s.framesDecoded, dropped: s.framesDropped, keyframes: s.keyFramesDecoded, pli: s.pliCount, nack: s.nackCount});
  });
  return out;
}"""


def test_network_quality_levels_reach_the_sdk(live, browser):
    """`networkQuality` asks for the network_quality channel; each input the SDK sends is answered
    with its level (measured on the server's side of its connection) and the others'."""
    alice, bob = browser.page(), browser.page()
    for page, identity in ((alice, "alice"), (bob, "bob")):
        joined = connect(
            page,
            live.token(identity, "sdk-quality"),
            name="sdk-quality",
            networkQuality={"local": 1, "remote": 1},
        )
        assert joined["ok"], joined
    level = "() => window.room.localParticipant.networkQualityLevel"
    wait_for(lambda: alice.evaluate(level) is not None, 20, "alice's network quality level")
    assert 0 <= alice.evaluate(level) <= 5
    remote = "() => [...window.room.participants.values()].map((p) => p.networkQualityLevel)"
    wait_for(lambda: bob.evaluate(remote) == [alice.evaluate(level)] or bob.evaluate(remote)[0] is not None,
             20, "alice's level as bob sees it")  # fmt: skip
    # Loopback loses nothing: the best level.
    assert alice.evaluate(level) == 5 and bob.evaluate(remote)[0] == 5
    for page in (alice, bob):
        page.evaluate("() => window.tv.leave()")


def test_three_sdk_participants_are_recorded_and_composed_in_their_colours(live, browser, tmp_path):
    from pipeline.embedded import compose_pending
    from pipeline.signing_key import deployment_storage
    from tests.media_checks import colour, streams, video_frames

    client = live.client()
    room = client.video.v1.rooms.create(
        unique_name="sdk-composed", record_participants_on_connect=True, unused_room_timeout=60
    )
    colours = {"red": (220, 40, 40), "green": (40, 200, 40), "blue": (40, 40, 220)}
    pages = []
    for identity, rgb in colours.items():
        page = browser.page()
        joined = connect(page, live.token(identity, "sdk-composed"), name="sdk-composed", colour=list(rgb))
        assert joined["ok"], joined
        pages.append(page)
    wait_for(lambda: all(frames(pages[0], who) > 30 for who in ("green", "blue")), 20, "everyone's video")
    pages[0].wait_for_timeout(3000)  # three more seconds of everyone together in the recordings
    for page in pages:
        page.evaluate("() => window.tv.leave()")
    client.video.v1.rooms(room.sid).update(status="completed")
    recordings = wait_for(
        lambda: (
            (rs := client.video.v1.rooms(room.sid).recordings.list())
            and all(r.status == "completed" for r in rs)
            and rs
        ),
        60,
        "six completed recordings",
    )
    assert sorted(r.type for r in recordings) == ["audio"] * 3 + ["video"] * 3
    composition = client.video.v1.compositions.create(
        room_sid=room.sid, video_layout={"grid": {"video_sources": ["*"]}}, audio_sources=["*"],
        resolution="1280x720", format="mp4",
    )  # fmt: skip
    storage = deployment_storage(live.settings, live.db, live.base)
    compose_pending(live.db, storage)
    done = client.video.v1.compositions(composition.sid).fetch()
    assert done.status == "completed", done.status
    path = storage.get_file(f"compositions/{live.account_sid}/{composition.sid}.mp4", tmp_path / "out.mp4")
    info = streams(path)
    assert (info.video_codec, info.audio_codec, info.width, info.height) == ("h264", "aac", 1280, 720)

    # While everyone is there, three cells of the 2x2 grid hold the three colours. (They leave one
    # after another, and on a loaded machine the first one's tile can be gone seconds before the
    # end, so the frames of the last half are searched rather than one fixed moment.)
    def dominant(img) -> list[int]:
        found = [colour(img, x, y) for x, y in ((320, 180), (960, 180), (320, 540), (960, 540))]
        # The browser's capture and the codec stretch saturation a little (measured (215, 6, 29)
        # for (220, 40, 40)): each cell is judged by its dominant channel, clearly ahead.
        return sorted(max(range(3), key=lambda c: f[c]) for f in found if max(f) - sorted(f)[1] > 100)

    late = [img for t, img in video_frames(path) if t >= info.duration / 2]
    together = [img for img in late[::5] if dominant(img) == [0, 1, 2]]
    assert len(together) >= 3, [dominant(img) for img in late[::30]]


def test_an_h264_room_plays_between_sdk_participants(live, browser):
    live.client().video.v1.rooms.create(unique_name="sdk-h264", video_codecs=["H264"], unused_room_timeout=60)
    alice, bob = browser.page(), browser.page()
    for page, identity in ((alice, "alice"), (bob, "bob")):
        joined = connect(page, live.token(identity, "sdk-h264"), name="sdk-h264",
                         preferredVideoCodecs=["H264"])  # fmt: skip
        assert joined["ok"], joined
    wait_for(lambda: frames(alice, "bob") > 10, 20, "bob's H.264 video to play at alice")
    wait_for(lambda: frames(bob, "alice") > 10, 20, "alice's H.264 video to play at bob")
    for page in (alice, bob):
        page.evaluate("() => window.tv.leave()")


def test_an_sdk_participant_and_the_browser_page_see_each_other(live, browser):
    """twilio-video.js (one connection, Twilio's signaling) and roomreel's own page (two
    connections, /v1/signal) in one room."""
    from tests.pipeline.sfu.test_chromium import PAGE_CONFIG

    sdk = browser.page()
    assert connect(sdk, live.token("alice", "sdk-and-page"), name="sdk-and-page")["ok"]
    context = browser.browser.new_context(bypass_csp=True)
    context.add_init_script(PAGE_CONFIG)
    page = context.new_page()
    page.goto(f"{live.base}/rooms/sdk-and-page?identity=bob&token={live.token('bob', 'sdk-and-page')}")
    page.wait_for_function("window.roomreel.status === 'joined' && !!window.roomreel.published.camera",
                           timeout=20_000)  # fmt: skip
    wait_for(lambda: frames(sdk, "bob") > 10, 20, "the page's video to play in the SDK")
    decoded = "() => window.roomreel.stats().then((s) => s.inbound.filter((x) => x.identity === 'alice' && x.kind === 'video').map((x) => x.framesDecoded))"
    wait_for(lambda: any(n > 10 for n in page.evaluate(decoded)), 20, "the SDK's video to play in the page")
    sdk.evaluate("() => window.tv.leave()")
    context.close()


def test_unreliable_data_tracks_carry_messages_both_ways_as_published(live, browser):
    """A LocalDataTrack with ordered: false and maxRetransmits: 0 (the SDK's "unreliable" data
    track) reaches the other side as such, in both directions."""
    alice, bob = browser.page(), browser.page()
    assert connect(alice, live.token("alice", "sdk-lossy"), name="sdk-lossy")["ok"]
    assert connect(bob, live.token("bob", "sdk-lossy"), name="sdk-lossy")["ok"]
    for page in (alice, bob):
        page.evaluate("() => window.tv.publishData({ordered: false, maxRetransmits: 0})")
    for page, other in ((alice, "bob"), (bob, "alice")):
        wait_for(
            lambda page=page, other=other: any(
                e["kind"] == "data" and e["participant"] == other for e in events(page, "trackSubscribed")
            ),
            20,
            f"{other}'s data track",
        )
    for page, who in ((alice, "alice"), (bob, "bob")):
        for i in range(5):
            page.evaluate("(text) => window.tv.send(text)", f"{who} {i}")
    for page, other in ((alice, "bob"), (bob, "alice")):
        wait_for(lambda page=page: len(events(page, "message")) == 5, 10, f"{other}'s messages")
        assert sorted(e["data"] for e in events(page, "message")) == [f"{other} {i}" for i in range(5)]
        track = next(e for e in events(page, "trackSubscribed") if e["kind"] == "data")
        assert (track["ordered"], track["maxRetransmits"]) == (False, 0), track


def test_max_participant_duration_disconnects_an_sdk_participant(live, browser):
    """Twilio's MaxParticipantDuration is at least 600 s through the REST API; the room row is
    written with 3 s here, so the test does not wait ten minutes for the same code path."""
    from pipeline.db.models import Room
    from pipeline.sids import new_sid

    with live.db.session() as session:
        session.add(
            Room(
                sid=new_sid("RM"),
                account_sid=live.account_sid,
                unique_name="sdk-limited",
                max_participant_duration=3,
            )
        )
    page = browser.page()
    joined = connect(page, live.token("alice", "sdk-limited"), name="sdk-limited")
    assert joined["ok"], joined
    wait_for(lambda: events(page, "disconnected"), 15, "MaxParticipantDuration to end alice")
    assert events(page, "disconnected")[0]["code"] == 53216
    participant = live.client().video.v1.rooms(joined["sid"]).participants(joined["participant"])
    # The database is written just after the client is told (the state writer's own task).
    status = wait_for(
        lambda: (p := participant.fetch()).status == "disconnected" and p, 10, "the REST status"
    )
    assert 2 <= status.duration <= 8, status.duration


SELECTED_PAIR = """async () => {
  const found = [...window.room._signaling._peerConnectionManager._peerConnections.values()][0];
  if (!found) return {port: null, ice: "closed", ufrag: null};  // the SDK gave the connection up
  const pc = found._peerConnection;
  const stats = await pc.getStats();
  let transport = null;
  stats.forEach((s) => { if (s.type === 'transport') transport = s; });
  const pair = transport && stats.get(transport.selectedCandidatePairId);
  return {
    port: pair ? stats.get(pair.localCandidateId).port : null,
    ice: pc.iceConnectionState,
    ufrag: (pc.localDescription.sdp.match(/a=ice-ufrag:(\\S+)/) || [])[1],
  };
}"""


def cut_the_path(pc) -> tuple[str, int]:
    """The network between the client and the server dies for the pair in use, both ways (what a
    phone moving from Wi-Fi to mobile data sees); a new path from another port still works.
    Runs on the SFU's loop."""
    connection = pc.getTransceivers()[0].receiver.transport.transport._connection
    pair = connection._nominated[1]
    dead, protocol = pair.remote_addr, pair.protocol
    receive, transport = protocol.datagram_received, protocol.transport

    class DeadPathTransport:
        def sendto(self, data, addr=None):
            if addr != dead:
                transport.sendto(data, addr)

        def __getattr__(self, name):
            return getattr(transport, name)

    protocol.datagram_received = lambda data, addr: None if addr == dead else receive(data, addr)
    protocol.transport = DeadPathTransport()
    return dead


def test_a_dead_network_path_is_replaced_by_the_sdk_s_ice_restart(live, browser):
    """The SDK restarts ICE when its media path goes silent: the server adopts the restart's new
    ICE credentials, the new path connects from a new port, and media goes on both ways in the
    same session (the room is `reconnecting`, then `reconnected`; nobody leaves)."""
    alice, bob = browser.page(), browser.page()
    joined = connect(alice, live.token("alice", "sdk-ice"), name="sdk-ice")
    assert joined["ok"] and connect(bob, live.token("bob", "sdk-ice"), name="sdk-ice")["ok"]
    wait_for(lambda: frames(alice, "bob") > 10 and frames(bob, "alice") > 10, 20, "video both ways")
    before = alice.evaluate(SELECTED_PAIR)
    participant = live.app.state.sfu.rooms[joined["sid"]].participants[joined["participant"]]
    loop = participant.negotiator._loop.get_loop()

    async def cut():
        return cut_the_path(participant.negotiator.pc)

    asyncio.run_coroutine_threadsafe(cut(), loop).result(5)
    wait_for(
        lambda: (
            (now := alice.evaluate(SELECTED_PAIR))["ufrag"] != before["ufrag"]
            and now["ice"] in ("connected", "completed")
            and now["port"] not in (None, before["port"])
        ),
        40,
        "the SDK to restart ICE onto a new path",
    )
    seen, sent = frames(alice, "bob"), frames(bob, "alice")
    wait_for(lambda: frames(alice, "bob") > seen + 30, 20, "bob's video to go on at alice")
    wait_for(lambda: frames(bob, "alice") > sent + 30, 20, "alice's video to go on at bob")
    # As on Twilio: the room says its media connection is being restored (53405), then restored.
    assert [(e["event"], e.get("code")) for e in events(alice) if e["event"].startswith("reconnect")] == [
        ("reconnecting", 53405),
        ("reconnected", None),
    ]
    assert not events(alice, "disconnected") and not events(bob, "participantDisconnected")
    status = live.client().video.v1.rooms(joined["sid"]).participants(joined["participant"]).fetch().status
    assert status == "connected"
