// Twilio's video quickstart flow, unchanged but for two connect options: connect with an access
// token, attach every participant's tracks, mute, leave. Tokens come from ?token= or, with
// ROOMREEL_DEV_TOKENS=1, from /dev/token. window.quickstart holds the state tests read.
"use strict";

(() => {
  const params = new URLSearchParams(location.search);
  const $ = (id) => document.getElementById(id);
  const state = { status: "idle", error: null, room: null, subscribed: [], muted: false };
  window.quickstart = state;

  function setStatus(status, text) {
    state.status = status;
    $("status").textContent = text || status;
  }

  function attachTrack(track, container) {
    if (track.kind === "data") return;
    const element = track.attach();
    element.dataset.sid = track.sid || "";
    container.appendChild(element);
  }

  function participantConnected(participant) {
    const container = document.createElement("div");
    container.id = participant.sid;
    container.className = "tile";
    container.dataset.identity = participant.identity;
    $("remote").appendChild(container);
    participant.tracks.forEach((publication) => {
      if (publication.track) attachTrack(publication.track, container);
    });
    participant.on("trackSubscribed", (track) => {
      state.subscribed.push({ identity: participant.identity, kind: track.kind, sid: track.sid });
      attachTrack(track, container);
    });
    participant.on("trackUnsubscribed", (track) => track.detach().forEach((element) => element.remove()));
  }

  async function token(identity, room) {
    if (params.get("token")) return params.get("token");
    const response = await fetch(`/dev/token?${new URLSearchParams({ identity, room })}`);
    if (!response.ok) throw new Error("no token: open this page with ?token=, or run the server with ROOMREEL_DEV_TOKENS=1");
    return (await response.json()).token;
  }

  async function join(identity, name) {
    setStatus("connecting", "connecting…");
    const room = await Twilio.Video.connect(await token(identity, name), {
      name,
      wsServer: location.origin.replace(/^http/, "ws") + "/signaling",
      insights: false,
    });
    state.room = { sid: room.sid, name: room.name, participant: room.localParticipant.sid };
    window.room = room;
    room.localParticipant.tracks.forEach((publication) => attachTrack(publication.track, $("local")));
    room.participants.forEach(participantConnected);
    room.on("participantConnected", participantConnected);
    room.on("participantDisconnected", (participant) => {
      const container = document.getElementById(participant.sid);
      if (container) container.remove();
    });
    room.on("disconnected", (_room, error) => {
      setStatus("disconnected", error ? `disconnected: ${error.message} (${error.code})` : "disconnected");
      $("mute").disabled = $("leave").disabled = true;
    });
    $("mute").onclick = () => {
      state.muted = !state.muted;
      room.localParticipant.audioTracks.forEach((publication) =>
        state.muted ? publication.track.disable() : publication.track.enable(),
      );
      $("mute").textContent = state.muted ? "unmute" : "mute";
    };
    $("leave").onclick = () => room.disconnect();
    $("mute").disabled = $("leave").disabled = false;
    setStatus("connected", `connected to ${room.name} as ${room.localParticipant.identity}`);
  }

  $("identity").value = params.get("identity") || `guest-${Math.random().toString(36).slice(2, 8)}`;
  $("room").value = params.get("room") || "";
  $("join").onsubmit = (event) => {
    event.preventDefault();
    join($("identity").value, $("room").value).catch((error) => {
      state.error = { code: error.code || 0, message: error.message };
      setStatus("error", `${error.message}${error.code ? ` (${error.code})` : ""}`);
    });
  };
  if (params.get("room") && params.get("autojoin") === "1") $("join").requestSubmit();
})();
