// roomreel's browser client: joins /v1/signal, publishes camera and microphone, shows everyone else.
// The protocol is described in docs/signaling.md. No framework, no build step.
//
// URL: /rooms/NAME[?identity=ID][&token=JWT][&relay=1][&publish=0]. Without ?token= the page asks
// /dev/token, which the server answers only with ROOMREEL_DEV_TOKENS=1. relay=1 sends media only
// through the TURN servers the server hands out (to check a TURN set-up from a network that has
// UDP). publish=0 watches only: no camera or microphone is asked for, nothing is published.
//
// window.roomreelConfig, when set before this script runs, may hold:
//   onlyCandidates: ["127.0.0.1"]  keep only these addresses in the ICE candidates sent to the server
"use strict";

(() => {
  const config = window.roomreelConfig || {};
  const params = new URLSearchParams(location.search);
  const roomName = decodeURIComponent(location.pathname.replace(/\/+$/, "").split("/").pop());
  const identity = params.get("identity") || `guest-${Math.random().toString(36).slice(2, 8)}`;
  // Host candidates until `joined` brings the server's STUN/TURN list (ROOMREEL_TURN_URLS).
  const rtcConfig = { iceServers: [], iceTransportPolicy: params.get("relay") === "1" ? "relay" : "all" };
  const watching = params.get("publish") === "0";
  const names = { video: "camera", audio: "microphone" };

  // Everything a test (or a curious person in the console) may want to look at.
  const state = {
    status: "starting", // starting | joined | disconnected | error
    error: null, // {code, message}: the last error (code 0 when the page itself failed)
    identity,
    room: null, // {sid, name, codec}
    participant: null, // {sid, identity}: this page's participant
    participants: {}, // sid -> {sid, identity, tracks: {track sid -> info}}
    slots: {}, // subscriber mid -> track info bound to it, or null when free
    published: {}, // name -> {sid, kind, mid, enabled}
    data: {}, // remote data track sid -> messages received
    events: [], // types of the server messages, in order
    remoteTracks,
    stats,
    connections: () => [publisher, subscriber].filter(Boolean),
    setEnabled,
    publishData,
    leave,
  };
  window.roomreel = state;

  const $ = (id) => document.getElementById(id);
  const receivers = {}; // subscriber mid -> MediaStreamTrack
  const local = {}; // name -> {track, transceiver} or {channel}
  const waiters = [];
  let ws = null;
  let publisher = null;
  let subscriber = null;
  let localStream = null;
  let queue = Promise.resolve(); // server messages are applied one at a time, in order
  let publishing = Promise.resolve(); // and publish negotiations too

  function setStatus(status, text) {
    state.status = status;
    $("status").textContent = text || status;
    $("status").classList.toggle("error", status === "error");
  }

  // -- signaling ----------------------------------------------------------------------------
  function send(message) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  function expect(predicate) {
    return new Promise((resolve) => waiters.push({ predicate, resolve }));
  }

  function onMessage(event) {
    const message = JSON.parse(event.data);
    state.events.push(message.type);
    for (const waiter of waiters.slice()) {
      if (waiter.predicate(message)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
    queue = queue.then(() => handle(message)).catch((err) => fail(0, String(err)));
  }

  async function handle(message) {
    switch (message.type) {
      case "joined":
        // Before any offer or answer, so before gathering: the servers apply to every candidate.
        for (const pc of [publisher, subscriber]) {
          pc.setConfiguration({ ...rtcConfig, iceServers: message.ice_servers || [] });
        }
        state.room = message.room;
        state.participant = message.participant;
        for (const p of message.participants) addParticipant(p);
        break;
      case "offer":
        await answerOffer(message);
        break;
      case "slot":
        state.slots[message.mid] = message.track || null;
        if (message.track) remember(message.track);
        break;
      case "participant_connected":
        addParticipant(message.participant);
        break;
      case "participant_disconnected":
        delete state.participants[message.participant_sid];
        break;
      case "track_published":
        remember(message.track);
        break;
      case "track_unpublished": {
        const p = state.participants[message.participant_sid];
        if (p) delete p.tracks[message.track_sid];
        break;
      }
      case "track_enabled":
      case "track_disabled": {
        const track = state.participants[message.participant_sid]?.tracks[message.track_sid];
        if (track) track.enabled = message.type === "track_enabled";
        break;
      }
      case "disconnected": // removed by the server: nothing more will come
        teardown();
        setStatus("disconnected", `disconnected: ${message.message} (${message.code})`);
        break;
      case "error":
        state.error = { code: message.code, message: message.message };
        if (state.status !== "joined") setStatus("error", `${message.message} (${message.code})`);
        else console.warn("roomreel:", message.code, message.message);
        break;
    }
    render();
  }

  function addParticipant(info) {
    state.participants[info.sid] = { sid: info.sid, identity: info.identity, tracks: {} };
    for (const track of info.tracks || []) {
      remember({ ...track, participant_sid: info.sid, identity: info.identity });
    }
  }

  function remember(info) {
    let p = state.participants[info.participant_sid];
    if (!p) p = state.participants[info.participant_sid] = { sid: info.participant_sid, identity: info.identity, tracks: {} };
    p.tracks[info.sid] = { ...p.tracks[info.sid], ...info };
  }

  function remoteTracks() {
    return Object.values(state.participants).flatMap((p) => Object.values(p.tracks));
  }

  // -- ICE: aiortc neither sends nor takes trickled candidates, so SDP carries them all ------
  function gathered(pc, timeout = 5000) {
    return new Promise((resolve) => {
      const done = () => {
        if (pc.iceGatheringState !== "complete") return;
        pc.removeEventListener("icegatheringstatechange", done);
        resolve();
      };
      pc.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, timeout);
      done();
    });
  }

  function outgoing(sdp) {
    const keep = config.onlyCandidates;
    if (!keep) return sdp;
    const lines = sdp.split("\r\n").filter((line) => {
      if (!line.startsWith("a=candidate:")) return true;
      const address = line.split(" ")[4];
      return keep.includes(address);
    });
    return lines.join("\r\n");
  }

  // -- publishing -----------------------------------------------------------------------------
  function preferCodec(transceiver, kind, codec) {
    if (!transceiver.setCodecPreferences) return;
    const all = RTCRtpReceiver.getCapabilities(kind).codecs;
    const mime = (c) => c.mimeType.toLowerCase();
    let wanted;
    if (kind === "audio") {
      wanted = all.filter((c) => mime(c) === "audio/opus");
    } else {
      wanted = all.filter((c) => mime(c) === `video/${codec.toLowerCase()}`);
      if (codec.toLowerCase() === "h264") {
        // Constrained Baseline, packetization-mode 1: the only H.264 aiortc takes.
        const fmtp = (c) => c.sdpFmtpLine || "";
        const baseline = wanted.filter(
          (c) => fmtp(c).includes("packetization-mode=1") && /profile-level-id=42/.test(fmtp(c))
        );
        if (baseline.length) wanted = baseline;
      }
      wanted = wanted.concat(all.filter((c) => mime(c) === "video/rtx"));
    }
    if (wanted.length) transceiver.setCodecPreferences(wanted);
  }

  async function negotiatePublish(sdp, tracks) {
    const reply = expect((m) => m.type === "publish_answer" || m.type === "error");
    send({ type: "publish", sdp: sdp === null ? null : outgoing(sdp), tracks });
    const message = await reply;
    if (message.type === "error") throw new Error(`publish refused: ${message.message} (${message.code})`);
    if (message.sdp) await publisher.setRemoteDescription({ type: "answer", sdp: message.sdp });
    for (const info of message.tracks) {
      state.published[info.name] = { sid: info.sid, kind: info.kind, mid: info.mid, enabled: info.enabled };
    }
    return message.tracks;
  }

  function serially(work) {
    const run = publishing.then(work);
    publishing = run.catch(() => {}); // a refused publish does not block the next one
    return run;
  }

  function publishMedia(stream) {
    return serially(async () => {
      // Transceivers before any data channel: aiortc otherwise never connects (MAX_BUNDLE bug).
      const tracks = [];
      for (const track of stream.getTracks()) {
        const transceiver = publisher.addTransceiver(track, { direction: "sendonly", streams: [stream] });
        preferCodec(transceiver, track.kind, state.room.codec);
        local[names[track.kind]] = { track, transceiver };
        tracks.push({ track, transceiver });
      }
      await publisher.setLocalDescription(await publisher.createOffer());
      await gathered(publisher);
      const infos = tracks.map(({ track, transceiver }) => ({
        mid: transceiver.mid,
        name: names[track.kind],
        kind: track.kind,
        enabled: true,
      }));
      return negotiatePublish(publisher.localDescription.sdp, infos);
    });
  }

  function publishData(name) {
    return serially(async () => {
      const channel = publisher.createDataChannel(name);
      local[name] = { channel };
      await publisher.setLocalDescription(await publisher.createOffer());
      await gathered(publisher);
      await negotiatePublish(publisher.localDescription.sdp, [{ name, kind: "data" }]);
      return channel;
    });
  }

  function setEnabled(name, enabled) {
    const mine = local[name];
    if (mine && mine.track) mine.track.enabled = enabled;
    if (state.published[name]) state.published[name].enabled = enabled;
    send({ type: "enable", name, enabled });
    renderControls();
  }

  // -- subscribing: the server offers, this page answers ------------------------------------
  async function answerOffer(message) {
    for (const [mid, info] of Object.entries(message.slots || {})) {
      state.slots[mid] = info || null;
      if (info) remember(info);
    }
    for (const info of Object.values(message.data || {})) if (info) remember(info);
    await subscriber.setRemoteDescription({ type: "offer", sdp: message.sdp });
    await subscriber.setLocalDescription(await subscriber.createAnswer());
    await gathered(subscriber);
    send({ type: "answer", sdp: outgoing(subscriber.localDescription.sdp) });
  }

  function onTrack(event) {
    const mid = event.transceiver.mid;
    receivers[mid] = event.track;
    if (event.track.kind === "audio") {
      // Every audio slot plays whoever is bound to it; the server forwards nothing to a free slot.
      const audio = document.createElement("audio");
      audio.autoplay = true;
      audio.dataset.mid = mid;
      audio.srcObject = new MediaStream([event.track]);
      $("audio").append(audio);
    }
    render();
  }

  function onDataChannel(event) {
    const channel = event.channel; // its label is the remote data track's SID
    state.data[channel.label] = state.data[channel.label] || [];
    channel.onmessage = (e) => state.data[channel.label].push(e.data);
  }

  // -- the grid -------------------------------------------------------------------------------
  function tile(key, label, isLocal) {
    let element = document.querySelector(`.tile[data-key="${key}"]`);
    if (!element) {
      element = document.createElement("div");
      element.className = isLocal ? "tile local" : "tile";
      element.dataset.key = key;
      element.innerHTML = '<video autoplay playsinline muted></video><div class="placeholder">video off</div><div class="label"></div>';
      $("grid").append(element);
    }
    element.querySelector(".label").textContent = label;
    return element;
  }

  function show(element, track) {
    const video = element.querySelector("video");
    const current = video.srcObject && video.srcObject.getVideoTracks()[0];
    if (track && current !== track) video.srcObject = new MediaStream([track]);
    if (!track && video.srcObject) video.srcObject = null;
    element.classList.toggle("video-off", !track);
  }

  function render() {
    if (localStream) {
      const camera = localStream.getVideoTracks()[0];
      const on = camera && camera.enabled;
      show(tile("local", `${identity} (you)`, true), on ? camera : null);
    }
    const keys = new Set(["local"]);
    for (const p of Object.values(state.participants)) {
      keys.add(p.sid);
      const mid = Object.keys(state.slots).find((m) => {
        const info = state.slots[m];
        return info && info.kind === "video" && info.participant_sid === p.sid && receivers[m];
      });
      // A track the participant no longer lists is unpublished, even before its slot is freed.
      const info = mid && p.tracks[state.slots[mid].sid];
      show(tile(p.sid, p.identity), info && info.enabled ? receivers[mid] : null);
    }
    for (const element of document.querySelectorAll(".tile")) {
      if (!keys.has(element.dataset.key)) element.remove();
    }
  }

  function renderControls() {
    const camera = state.published.camera;
    const microphone = state.published.microphone;
    $("toggle-camera").disabled = !camera;
    $("toggle-camera").textContent = camera && !camera.enabled ? "camera on" : "camera off";
    $("toggle-microphone").disabled = !microphone;
    $("toggle-microphone").textContent = microphone && !microphone.enabled ? "unmute" : "mute";
    $("leave").disabled = state.status !== "joined";
    render();
  }

  // -- stats for tests: what this page decodes and sends -------------------------------------
  async function stats() {
    const inbound = [];
    for (const transceiver of subscriber ? subscriber.getTransceivers() : []) {
      const info = state.slots[transceiver.mid] || null;
      const report = await transceiver.receiver.getStats();
      report.forEach((s) => {
        if (s.type !== "inbound-rtp") return;
        inbound.push({
          mid: transceiver.mid,
          kind: s.kind,
          track_sid: info && info.sid,
          identity: info && info.identity,
          codec: report.get(s.codecId)?.mimeType || null,
          packetsReceived: s.packetsReceived || 0,
          bytesReceived: s.bytesReceived || 0,
          framesDecoded: s.framesDecoded || 0,
          frameWidth: s.frameWidth || 0,
          frameHeight: s.frameHeight || 0,
          totalSamplesReceived: s.totalSamplesReceived || 0,
        });
      });
    }
    const outbound = [];
    for (const transceiver of publisher ? publisher.getTransceivers() : []) {
      const report = await transceiver.sender.getStats();
      report.forEach((s) => {
        if (s.type !== "outbound-rtp") return;
        outbound.push({
          mid: transceiver.mid,
          kind: s.kind,
          codec: report.get(s.codecId)?.mimeType || null,
          packetsSent: s.packetsSent || 0,
          bytesSent: s.bytesSent || 0,
          framesEncoded: s.framesEncoded || 0,
          frameWidth: s.frameWidth || 0,
          frameHeight: s.frameHeight || 0,
        });
      });
    }
    return {
      inbound,
      outbound,
      publisher: publisher && publisher.connectionState,
      subscriber: subscriber && subscriber.connectionState,
    };
  }

  // -- life cycle -------------------------------------------------------------------------------
  function fail(code, message) {
    state.error = { code, message };
    setStatus("error", code ? `${message} (${code})` : message);
    renderControls();
  }

  async function token() {
    if (params.get("token")) return params.get("token");
    const query = new URLSearchParams({ identity, room: roomName });
    const response = await fetch(`/dev/token?${query}`);
    if (!response.ok) throw new Error("no token: pass ?token=, or run the server with ROOMREEL_DEV_TOKENS=1");
    return (await response.json()).token;
  }

  function teardown() {
    if (ws) ws.close();
    for (const pc of [publisher, subscriber]) if (pc) pc.close();
    if (localStream) for (const track of localStream.getTracks()) track.stop();
    state.participants = {};
  }

  function leave() {
    send({ type: "leave" });
    teardown();
    setStatus("disconnected", "left the room");
    renderControls();
  }

  async function start() {
    document.title = `${roomName} · roomreel`;
    $("room-name").textContent = roomName;
    // Before any connection: once media is granted, Chromium shows real host addresses, not mDNS names.
    if (watching) {
      setStatus("starting", "joining to watch…");
    } else {
      setStatus("starting", "asking for camera and microphone…");
      localStream = await navigator.mediaDevices.getUserMedia({
        audio: true,
        video: { width: 640, height: 480 },
      });
    }
    render();
    const jwt = await token();
    publisher = new RTCPeerConnection(rtcConfig);
    subscriber = new RTCPeerConnection(rtcConfig);
    subscriber.ontrack = onTrack;
    subscriber.ondatachannel = onDataChannel;

    setStatus("starting", "joining…");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = new URLSearchParams({ token: jwt, room: roomName });
    ws = new WebSocket(`${scheme}://${location.host}/v1/signal?${query}`);
    ws.onmessage = onMessage;
    ws.onclose = (event) => {
      if (state.status === "joined" || state.status === "starting") {
        setStatus(event.code === 1000 ? "disconnected" : "error", `connection closed (${event.code})`);
      }
      renderControls();
    };
    const first = await expect((m) => m.type === "joined" || m.type === "error");
    if (first.type === "error") return; // handle() shows it; the server closes the socket
    await queue; // the joined message has been applied
    setStatus("joined", `joined as ${identity}`);
    if (localStream) await publishMedia(localStream);
    renderControls();
    setInterval(() => send({ type: "ping" }), 20000);
  }

  $("toggle-camera").onclick = () => setEnabled("camera", !state.published.camera.enabled);
  $("toggle-microphone").onclick = () => setEnabled("microphone", !state.published.microphone.enabled);
  $("leave").onclick = leave;
  start().catch((err) => fail(0, err.message || String(err)));
})();
