// The roomreel dashboard: signs in with Basic credentials and reads /dashboard/api/overview.
// The credentials typed into its form go explicitly on each request, never into the browser's
// own Basic-auth cache, which would attach them to forms other sites post here too.
"use strict";

const $ = (id) => document.getElementById(id);
let auth = sessionStorage.getItem("roomreel.auth");
let timer = null;
const firstSeen = {}; // composition SID -> [time, progress] when this page first saw it rendering

async function api(path, options = {}) {
  const headers = { "X-Roomreel-Client": "dashboard", ...(options.headers || {}) };
  if (auth) headers.Authorization = "Basic " + auth;
  const response = await fetch(path, { ...options, headers });
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try { message = (await response.json()).message || message; } catch (e) { /* not JSON */ }
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return response;
}

function text(value) { return value === null || value === undefined ? "" : String(value); }
function cell(row, content, cls) {
  const td = row.insertCell();
  if (content instanceof Node) td.append(content); else td.textContent = text(content);
  if (cls) td.className = cls;
  return td;
}
function button(label, action, cls) {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = label; b.onclick = action;
  if (cls) b.className = cls;
  return b;
}
function size(bytes) {
  if (!bytes) return "";
  const units = ["B", "KB", "MB", "GB"]; let i = 0;
  while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
  return `${bytes.toFixed(i ? 1 : 0)} ${units[i]}`;
}
function seconds(s) { return s ? `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, "0")}` : ""; }
function when(iso) { return iso ? new Date(iso).toLocaleString() : ""; }
function body(tableId) { const t = $(tableId).tBodies[0]; t.replaceChildren(); return t; }

async function mediaUrl(sid) { return (await (await api(`/dashboard/api/media/${sid}`)).json()).url; }

async function play(sid) {
  $("player-box").hidden = false;
  $("player-title").textContent = sid;
  const player = $("player");
  player.dataset.sid = sid;
  player.src = await mediaUrl(sid);
  player.load();
}

async function download(sid) { window.open(await mediaUrl(sid), "_blank"); }

function eta(c) {
  if (c.status !== "processing" || !c.progress) return "";
  const now = Date.now();
  const seen = firstSeen[c.sid] || (firstSeen[c.sid] = [now, c.progress]);
  const done = c.progress - seen[1];
  if (done <= 0) return "";
  const left = ((now - seen[0]) / done) * (100 - c.progress) / 1000;
  return `ETA ${seconds(Math.max(1, left))}`;
}

function renderRooms(rooms) {
  const tbody = body("rooms");
  for (const r of rooms) {
    const row = tbody.insertRow();
    row.dataset.sid = r.sid;
    cell(row, r.unique_name); cell(row, r.sid, "sid");
    cell(row, r.status, `status-${r.status}`); cell(row, when(r.date_created)); cell(row, seconds(r.duration));
    const list = document.createElement("ul"); list.className = "people";
    for (const p of r.participants) {
      const item = document.createElement("li");
      const tracks = p.tracks.map((t) => `${t.kind} “${t.name}”${t.enabled ? "" : " (disabled)"}`).join(", ");
      item.textContent = `${p.identity} (${p.status})${tracks ? ": " + tracks : ""}`;
      list.append(item);
    }
    cell(row, list);
  }
  const select = $("compose-room");
  const chosen = select.value;
  select.replaceChildren();
  for (const r of rooms.filter((x) => x.status === "completed")) {
    select.add(new Option(`${r.unique_name} (${r.sid})`, r.sid));
  }
  if (chosen) select.value = chosen;
}

function renderCompositions(compositions) {
  const tbody = body("compositions");
  for (const c of compositions) {
    const row = tbody.insertRow();
    row.dataset.sid = c.sid;
    row.dataset.status = c.status;
    const thumb = document.createElement("span");
    if (c.thumbnail) {
      api(c.thumbnail).then((r) => r.blob()).then((blob) => {
        const img = document.createElement("img");
        img.className = "thumb"; img.alt = `frame of ${c.sid}`; img.src = URL.createObjectURL(blob);
        thumb.append(img);
      }).catch(() => {});
    }
    cell(row, thumb);
    cell(row, c.sid, "sid"); cell(row, c.room_sid, "sid");
    cell(row, c.status + (c.error_message ? `: ${c.error_message}` : ""), `status-${c.status} status`);
    const bar = document.createElement("progress");
    bar.max = 100; bar.value = c.status === "completed" ? 100 : c.progress;
    const progress = document.createElement("span");
    progress.append(bar, ` ${c.status === "completed" ? 100 : c.progress}% ${eta(c)}`);
    cell(row, progress, "progress");
    cell(row, c.format); cell(row, seconds(c.duration)); cell(row, size(c.size));
    const actions = document.createElement("span");
    if (c.status === "completed") {
      actions.append(button("Play", () => play(c.sid), "play"), " ", button("Download", () => download(c.sid)));
    }
    cell(row, actions);
  }
}

function renderRecordings(recordings) {
  const tbody = body("recordings");
  for (const r of recordings) {
    const row = tbody.insertRow();
    row.dataset.sid = r.sid;
    cell(row, r.sid, "sid"); cell(row, r.grouping_sids?.room_sid || r.room_sid || "", "sid");
    cell(row, r.track_name); cell(row, r.type); cell(row, r.codec);
    cell(row, r.status, `status-${r.status}`); cell(row, seconds(r.duration)); cell(row, size(r.size));
    cell(row, r.status === "completed" ? button("Download", () => download(r.sid)) : "");
  }
}

function renderHooks(hooks) {
  const tbody = body("hooks");
  for (const h of hooks) {
    const row = tbody.insertRow();
    cell(row, h.friendly_name); cell(row, h.sid, "sid"); cell(row, h.enabled ? "yes" : "no");
    cell(row, JSON.stringify(h.video_layout)); cell(row, h.resolution); cell(row, h.format);
  }
}

function renderPresets(presets) {
  const select = $("compose-preset");
  if (select.options.length) return;
  for (const p of presets) select.add(new Option(`${p.name}: ${p.description}`, p.name));
  select.add(new Option("custom JSON", "custom"));
  select.value = presets.some((p) => p.name === "grid") ? "grid" : select.options[0].value;
}

async function refresh() {
  try {
    const data = await (await api("/dashboard/api/overview")).json();
    $("who").textContent = data.account_sid;
    renderPresets(data.presets);
    renderRooms(data.rooms);
    renderCompositions(data.compositions);
    renderRecordings(data.recordings);
    renderHooks(data.hooks);
  } catch (error) {
    if (error.status === 401) signOut("Your credentials were refused; sign in again.");
  }
}

function compositionForm() {
  const form = new URLSearchParams();
  form.set("RoomSid", $("compose-room").value);
  const preset = $("compose-preset").value;
  form.set("VideoLayout", preset === "custom" ? $("compose-layout").value : preset);
  form.set("Resolution", $("compose-resolution").value);
  for (const source of $("compose-audio").value.split(",").map((s) => s.trim()).filter(Boolean)) {
    form.append("AudioSources", source);
  }
  return form;
}

async function preview() {
  $("compose-error").textContent = "";
  try {
    const response = await api("/dashboard/api/preview", { method: "POST", body: compositionForm() });
    const img = $("preview");
    img.src = URL.createObjectURL(await response.blob());
    img.hidden = false;
  } catch (error) {
    $("compose-error").textContent = error.message;
  }
}

async function createComposition(event) {
  event.preventDefault();
  $("compose-error").textContent = "";
  const form = compositionForm();
  form.set("Format", $("compose-format").value);
  try {
    await api("/v1/Compositions", { method: "POST", body: form });
    await refresh();
  } catch (error) {
    $("compose-error").textContent = error.message;
  }
}

function signOut(message) {
  sessionStorage.removeItem("roomreel.auth");
  auth = null;
  clearInterval(timer);
  $("app").hidden = true; $("signout").hidden = true; $("login").hidden = false;
  $("who").textContent = "";
  $("login-error").textContent = message || "";
}

async function signIn(credentials, user) {
  auth = credentials;
  await api("/dashboard/api/overview");
  sessionStorage.setItem("roomreel.auth", credentials);
  $("login").hidden = true; $("app").hidden = false; $("signout").hidden = false;
  $("who").textContent = user || atob(credentials).split(":")[0];
  await refresh();
  timer = setInterval(refresh, 2000);
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const user = $("user").value.trim();
  try {
    await signIn(btoa(`${user}:${$("password").value}`), user);
  } catch (error) {
    signOut(error.message);
  }
});
$("signout").onclick = () => signOut();
$("compose").addEventListener("submit", createComposition);
$("preview-button").onclick = preview;
$("compose-preset").onchange = () => { $("custom-box").hidden = $("compose-preset").value !== "custom"; };
if (auth) signIn(auth).catch(() => signOut());
