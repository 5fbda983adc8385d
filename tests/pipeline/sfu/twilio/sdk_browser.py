"""Headless Chromium pages running the real twilio-video.js against a roomreel server.

Each page is a tiny app served (through Playwright's routing) on the server's own origin: it
loads the SDK's dist/twilio-video.min.js and keeps every Room event it sees in `window.log`,
and `window.tv` holds helpers the tests call."""

from __future__ import annotations

import pytest

from tests.pipeline.sfu.test_chromium import CHROMIUM, CHROMIUM_ARGS
from tests.twilio_sdk import sdk_script

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

APP = """<!doctype html><html><head><meta charset="utf-8"><title>twilio-video app</title>
<script src="/sdk-app/twilio-video.min.js"></script></head><body><div id="media"></div><script>
window.log = [];
const note = (event, detail) => window.log.push({event, ...detail, t: performance.now()});
function watchTrack(track, participant) {
  const reliability = track.kind === "data" ? {ordered: track.ordered, maxRetransmits: track.maxRetransmits} : {};
  note("trackSubscribed", {kind: track.kind, sid: track.sid, name: track.name, participant: participant.identity, ...reliability});
  if (track.kind === "data") {
    track.on("message", (data) => note("message", {from: participant.identity, data: String(data)}));
    return;
  }
  const element = track.attach();
  element.dataset.sid = track.sid;
  element.dataset.identity = participant.identity;
  element.muted = true;
  document.getElementById("media").appendChild(element);
}
function watchParticipant(participant) {
  participant.tracks.forEach((publication) => { if (publication.track) watchTrack(publication.track, participant); });
  participant.on("trackSubscribed", (track) => watchTrack(track, participant));
  participant.on("trackUnsubscribed", (track) => note("trackUnsubscribed", {kind: track.kind, sid: track.sid, participant: participant.identity}));
  participant.on("trackDisabled", (publication) => note("trackDisabled", {sid: publication.trackSid, participant: participant.identity}));
  participant.on("trackEnabled", (publication) => note("trackEnabled", {sid: publication.trackSid, participant: participant.identity}));
  participant.on("trackUnpublished", (publication) => note("trackUnpublished", {sid: publication.trackSid, participant: participant.identity}));
}
// A camera of one flat colour (a canvas), so a composition shows whose picture is where.
function colourCamera(rgb) {
  const canvas = document.createElement("canvas");
  canvas.width = 640; canvas.height = 480;
  const context = canvas.getContext("2d");
  const paint = () => { context.fillStyle = `rgb(${rgb.join(",")})`; context.fillRect(0, 0, 640, 480); };
  paint();
  setInterval(paint, 33);  // a canvas stream sends frames only when the canvas is drawn
  return canvas.captureStream(30).getVideoTracks()[0];
}
window.tv = {
  async connect(token, options) {
    const wsServer = location.origin.replace(/^http/, "ws") + "/signaling";
    if (options && options.colour) {
      const audio = await Twilio.Video.createLocalAudioTrack();
      options = {...options, tracks: [audio, new Twilio.Video.LocalVideoTrack(colourCamera(options.colour))]};
      delete options.colour;
    }
    try {
      const room = await Twilio.Video.connect(token, {wsServer, insights: false, ...options});
      window.room = room;
      room.participants.forEach((p) => { note("participantConnected", {identity: p.identity, sid: p.sid}); watchParticipant(p); });
      room.on("participantConnected", (p) => { note("participantConnected", {identity: p.identity, sid: p.sid}); watchParticipant(p); });
      room.on("participantDisconnected", (p) => note("participantDisconnected", {identity: p.identity, sid: p.sid}));
      room.on("disconnected", (r, error) => note("disconnected", {code: error ? error.code : null, message: error ? error.message : null}));
      room.on("reconnecting", (error) => note("reconnecting", {code: error ? error.code : null}));
      room.on("reconnected", () => note("reconnected", {}));
      room.on("dominantSpeakerChanged", (p) => note("dominantSpeakerChanged", {identity: p ? p.identity : null}));
      return {ok: true, sid: room.sid, name: room.name, participant: room.localParticipant.sid,
              identity: room.localParticipant.identity,
              tracks: [...room.localParticipant.tracks.values()].map((p) => ({sid: p.trackSid, kind: p.kind, name: p.trackName}))};
    } catch (error) {
      return {ok: false, code: error.code, message: error.message, name: error.name};
    }
  },
  colour(identity) {
    const video = document.querySelector(`#media video[data-identity="${identity}"]`);
    if (!video || !video.videoWidth) return null;
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    const context = canvas.getContext("2d");
    context.drawImage(video, 0, 0);
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    const sum = [0, 0, 0];
    for (let i = 0; i < data.length; i += 4) { sum[0] += data[i]; sum[1] += data[i + 1]; sum[2] += data[i + 2]; }
    const n = data.length / 4;
    return sum.map((v) => Math.round(v / n));
  },
  async setEnabled(kind, enabled) {
    for (const publication of window.room.localParticipant.tracks.values()) {
      if (publication.kind === kind) enabled ? publication.track.enable() : publication.track.disable();
    }
  },
  leave() { window.room.disconnect(); },
  async publishData(options) {
    window.dataTrack = new Twilio.Video.LocalDataTrack(options || {});
    const publication = await window.room.localParticipant.publishTrack(window.dataTrack);
    return publication.trackSid;
  },
  send(text) { window.dataTrack.send(text); },
  async publishCamera(name) {
    window.extraTrack = await Twilio.Video.createLocalVideoTrack({name});
    const publication = await window.room.localParticipant.publishTrack(window.extraTrack);
    return publication.trackSid;
  },
  unpublishCamera() {
    window.room.localParticipant.unpublishTrack(window.extraTrack);
    window.extraTrack.stop();
  },
  frames(identity, kind) {
    const element = document.querySelector(`#media ${kind}[data-identity="${identity}"]`);
    if (!element) return -1;
    if (kind === "video") return element.getVideoPlaybackQuality().totalVideoFrames;
    return element.currentTime;
  },
};
</script></body></html>"""


class SdkBrowser:
    """One headless Chromium; `page()` opens an app page on the roomreel server's origin."""

    def __init__(self, base: str) -> None:
        if not CHROMIUM.exists():
            pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)")
        self.base = base
        self.script = sdk_script().read_bytes()
        self._playwright = sync_api.sync_playwright().start()
        # The app page is served by Playwright's routing, which Chromium's Local Network Access
        # treats as a public page: without this, its WebSocket to 127.0.0.1 is blocked.
        args = [
            "--disable-features=WebRtcHideLocalIpsWithMdns,LocalNetworkAccessChecks"
            if a.startswith("--disable-features=")
            else a
            for a in CHROMIUM_ARGS
        ]
        self.browser = self._playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=args
        )

    def page(self, base: str | None = None):
        """An app page whose origin (and so `wsServer`) is `base`, by default the server's."""
        base = base or self.base
        context = self.browser.new_context()
        page = context.new_page()
        page.route(f"{base}/sdk-app/", lambda route: route.fulfill(body=APP, content_type="text/html"))
        page.route(
            f"{base}/sdk-app/twilio-video.min.js",
            lambda route: route.fulfill(body=self.script, content_type="text/javascript"),
        )
        page.goto(f"{base}/sdk-app/")
        page.wait_for_function("() => !!window.Twilio && !!window.tv")
        return page

    def close(self) -> None:
        self.browser.close()
        self._playwright.stop()


def connect(page, token: str, **options) -> dict:
    return page.evaluate("([token, options]) => window.tv.connect(token, options)", [token, options])


def events(page, name: str | None = None) -> list[dict]:
    log = page.evaluate("() => window.log")
    return [e for e in log if name is None or e["event"] == name]
