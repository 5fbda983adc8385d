"""One twilio-video.js participant: its room-signaling messages, onto the room core.

The SDK negotiates one peer connection in both directions and always offers first: its
`connect` carries the offer for what it publishes, and every later change comes as an `update`
with the full list of its tracks (by the SDK's own ids, matched to m-sections through
`a=msid`). We answer with the same revision, and offer (revision + 1) whenever what it receives
changes shape, naming each receiver in `subscribed`. In glare the client yields: while our offer
is out, its offers are ignored, and it offers again after answering ours.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCIceCandidate, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

from pipeline.error_codes import (
    INVALID_TOKEN,
    MEDIA_CONNECTION_FAILED,
    MESSAGE_INVALID,
    ROOM_COMPLETED,
    ROOM_NAME_REQUIRED,
    SIGNALING_DISCONNECTED,
    TRACK_INVALID,
    TRACK_NAME_DUPLICATED,
)
from pipeline.logs import bind
from pipeline.sids import new_sid

from .. import rtc_adapter
from ..access_token import AccessTokenError
from ..participant import Participant, SignalingError, check_track_name
from ..published_track import PublishedTrack
from ..room import Room
from ..sfu import Sfu
from ..subscription import Subscription
from ..turn import ice_servers
from . import sdp as sdp_text
from .media_signaling import ActiveSpeakerChannel, NetworkQualityChannel, offered, requested
from .tcmp import TcmpConnection

log = logging.getLogger("roomreel.twilio")

SESSION_TIMEOUT = 30  # seconds; the client's reconnect window (`connected.options.session_timeout`)
ANSWER_TIMEOUT = 15.0


def participant_state(participant: Participant, revision: int, state: str = "connected") -> dict[str, Any]:
    tracks = [] if state == "disconnected" else list(participant.tracks.values())
    return {
        "sid": participant.sid,
        "identity": participant.identity,
        "state": state,
        "revision": revision,
        "tracks": [
            {"sid": t.sid, "kind": t.kind, "name": t.name, "enabled": t.enabled, "priority": "standard"}
            for t in tracks
        ],
    }


@dataclass
class ClientTrack:
    """A track in the client's participant state: its SDK id, and ours once published."""

    id: str
    kind: str
    name: str
    enabled: bool
    sid: str
    track: PublishedTrack | None = None


class TwilioSignals:
    """Room events as `update` messages: each remote participant's full state at a rising revision."""

    def __init__(self, tcmp: TcmpConnection) -> None:
        self.tcmp = tcmp
        self.negotiator: TwilioNegotiator | None = None
        self._revisions: dict[str, int] = {}
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._sender = asyncio.ensure_future(self._send_in_order())

    def revision(self, sid: str) -> int:
        self._revisions[sid] = self._revisions.get(sid, 0) + 1
        return self._revisions[sid]

    def queue(self, message: dict[str, Any]) -> None:
        self._queue.put_nowait(message)

    async def _send_in_order(self) -> None:
        while True:
            message = await self._queue.get()
            await self.tcmp.send(message)

    def _participant(self, other: Participant, state: str = "connected") -> None:
        if other.hidden:
            return
        self.queue(
            {"type": "update", "participants": [participant_state(other, self.revision(other.sid), state)]}
        )

    async def joined(self, participant: Participant) -> None:
        assert self.negotiator is not None
        await self.negotiator.connect()

    def participant_connected(self, other: Participant) -> None:
        self._participant(other)

    def participant_disconnected(self, other: Participant) -> None:
        self._participant(other, "disconnected")

    def track_published(self, track: PublishedTrack) -> None:
        self._participant(track.publisher)

    def track_unpublished(self, track: PublishedTrack) -> None:
        self._participant(track.publisher)

    def track_enabled(self, track: PublishedTrack, enabled: bool) -> None:
        self._participant(track.publisher)

    def dominant_speaker_changed(self, speaker: Participant | None) -> None:
        channel = self.negotiator.speaker_channel if self.negotiator else None
        if channel is not None:
            channel.announce(speaker.sid if speaker else None)

    async def disconnected(self, code: int, reason: str) -> None:
        if code == ROOM_COMPLETED:
            message: dict[str, Any] = {"type": "disconnected", "status": "completed"}
        else:
            message = {"type": "error", "code": code, "message": reason}
        await self.flush()
        await self.tcmp.send(message)

    async def flush(self) -> None:
        while not self._queue.empty():
            await self.tcmp.send(self._queue.get_nowait())

    def close(self) -> None:
        self._sender.cancel()


class TwilioNegotiator:
    """The one peer connection: the client's offers answered, ours sent when subscriptions change."""

    def __init__(
        self, participant: Participant, signals: TwilioSignals, connect: dict[str, Any], session: str
    ) -> None:
        self.participant = participant
        self.signals = signals
        self.session = session
        self.request = connect
        self.pc = participant.publisher
        self.pc_id: str | None = None
        self.revision = 0  # the highest description revision either side used
        self.client_sdp = ""
        self._mids: dict[str, str] = {}  # the SDK's track id -> its m-section, from client_sdp
        self.tracks: dict[str, ClientTrack] = {}  # by the SDK's track id
        self.state_revision = 0
        self.published_revision = 0
        self.subscribed_revision = 0
        self._lock = asyncio.Lock()  # one description change at a time
        self._answer: asyncio.Future[tuple[int, str]] | None = None
        self._offer_revision = 0
        self._offer_message: dict[str, Any] | None = None
        self._candidates: set[str] = set()
        self._negotiate = asyncio.Event()
        self._ready = asyncio.Event()  # the client's first offer is answered
        self._announced: set[str] = set()  # track ids told `ready`
        self.channels = requested(connect)
        self.speaker_channel: ActiveSpeakerChannel | None = None
        self.quality_channel: NetworkQualityChannel | None = None
        self.pc.on("datachannel", lambda channel: asyncio.get_running_loop().call_soon(self.start_tracks))
        self._loop = asyncio.ensure_future(self._offers())

    # -- connect ---------------------------------------------------------------------------------
    async def connect(self) -> None:
        """Answer the offer in `connect` and send `connected` (the participant is not admitted
        yet, so no subscription can race this first negotiation)."""
        participant = self.participant
        room = participant.room
        entry = self._peer_connection(self.request)
        published = self._track_list(self.request.get("participant"))
        answer = None
        if entry is not None:
            self.pc_id = entry["id"]
            description = entry.get("description") or {}
            if description.get("type") == "offer" and isinstance(description.get("sdp"), str):
                answer = await self._answer_offer(int(description.get("revision") or 1), description["sdp"])
        if published is not None:
            self._follow_state(published)
        others = [
            participant_state(p, self.signals.revision(p.sid)) for p in room.visible() if p is not participant
        ]
        message: dict[str, Any] = {
            "type": "connected",
            "session": self.session,
            "sid": room.sid,
            "name": room.settings.name,
            "options": {
                "session_timeout": SESSION_TIMEOUT,
                "media_region": "local",
                "signaling_region": "local",
            },
            "participant": {"sid": participant.sid, "identity": participant.identity},
            "participants": others,
            "published": self._published(),
            "subscribed": {"revision": 1, "tracks": []},
            "recording": {"revision": 1, "is_recording": False},
            "media_signaling": offered(self.channels),
        }
        if answer is not None:
            message["peer_connections"] = [
                {
                    "id": self.pc_id,
                    "description": {"type": "answer", "revision": self.revision, "sdp": answer},
                }
            ]
        self.subscribed_revision = 1
        await self.signals.tcmp.send(message)
        self._ready.set()

    def start_tracks(self) -> None:
        """Publish to the room what the client sends and we have a receiver for (after admission)."""
        for item in self.tracks.values():
            if item.track is not None:
                continue
            if item.kind == "data":
                item.track = self.participant.start_track(
                    item.name, "data", True, data_label=item.id, sid=item.sid
                )
                continue
            transceiver = self._transceiver_of(item.id)
            if transceiver is not None:
                item.track = self.participant.start_track(
                    item.name, item.kind, item.enabled, transceiver, sid=item.sid
                )
        if self._ready_ids() - self._announced:
            self.signals.queue({"type": "update", "published": self._published()})

    def _ready_ids(self) -> set[str]:
        """Tracks the SDK may use: media with a receiver, data once its channel is open here (the
        SDK drops what it sends on a channel still connecting, and sends once `ready`)."""
        return {
            item.id
            for item in self.tracks.values()
            if (item.kind == "data" and self.participant.has_data_channel(item.id))
            or (item.kind != "data" and self._transceiver_of(item.id) is not None)
        }

    def _published(self) -> dict[str, Any]:
        self.published_revision += 1
        ready = self._ready_ids()
        self._announced |= ready
        tracks = [
            {"id": item.id, "sid": item.sid, "state": "ready"}
            for item in self.tracks.values()
            if item.id in ready
        ]
        return {"revision": self.published_revision, "tracks": tracks}

    # -- the client's updates ---------------------------------------------------------------------
    async def update(self, message: dict[str, Any]) -> None:
        tracks = self._track_list(message.get("participant"))
        if tracks is not None:
            self._follow_state(tracks)
        entry = self._peer_connection(message)
        if entry is not None:
            description = entry.get("description")
            if isinstance(description, dict):
                await self._description(description)
            ice = entry.get("ice")
            if isinstance(ice, dict):
                await self._ice(ice)
        self.start_tracks()

    def _track_list(self, state: Any) -> list[dict[str, Any]] | None:
        if not isinstance(state, dict) or not isinstance(state.get("tracks"), list):
            return None
        revision = state.get("revision")
        if isinstance(revision, int):
            if revision <= self.state_revision:
                return None
            self.state_revision = revision
        return [t for t in state["tracks"] if isinstance(t, dict)]

    def _follow_state(self, tracks: list[dict[str, Any]]) -> None:
        participant = self.participant
        seen = set()
        failed = []
        for item in tracks:
            track_id, kind, name = item.get("id"), item.get("kind"), item.get("name")
            if not isinstance(track_id, str) or kind not in ("audio", "video", "data"):
                continue
            seen.add(track_id)
            enabled = item.get("enabled", True) is not False
            known = self.tracks.get(track_id)
            if known is not None:
                if known.track is not None and known.track.enabled != enabled and known.kind != "data":
                    asyncio.ensure_future(participant.set_enabled(known.name, enabled))
                known.enabled = enabled
                continue
            name = name if isinstance(name, str) and name else track_id
            try:
                check_track_name(name)
                participant.check_capacity(1 + sum(t.track is None for t in self.tracks.values()))
                if name in participant.tracks or any(t.name == name for t in self.tracks.values()):
                    raise SignalingError(TRACK_NAME_DUPLICATED, "Track name is duplicated")
                if kind == "video" and participant.room.settings.audio_only:
                    raise SignalingError(TRACK_INVALID, "This room is audio-only")
            except SignalingError as exc:
                failed.append(
                    {"id": track_id, "state": "failed", "error": {"code": exc.code, "message": exc.message}}
                )
                continue
            self.tracks[track_id] = ClientTrack(track_id, kind, name, enabled, new_sid("MT"))
        for track_id in [t for t in self.tracks if t not in seen]:
            item = self.tracks.pop(track_id)
            if item.track is not None and item.name in participant.tracks:
                asyncio.ensure_future(participant.unpublish(item.name))
        if failed:
            published = self._published()
            published["tracks"] += failed
            self.signals.queue({"type": "update", "published": published})

    def _peer_connection(self, message: dict[str, Any]) -> dict[str, Any] | None:
        entries = message.get("peer_connections")
        if not isinstance(entries, list):
            return None
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                if self.pc_id is None or entry["id"] == self.pc_id:
                    return entry
        return None

    async def _description(self, description: dict[str, Any]) -> None:
        kind, revision, text = description.get("type"), description.get("revision"), description.get("sdp")
        if not isinstance(revision, int):
            return
        if kind == "offer" and isinstance(text, str):
            if self._answer is not None and not self._answer.done():
                return  # glare: ours stands; the client answers it, then offers again
            answer = await self._answer_offer(revision, text)
            self.signals.queue(
                {
                    "type": "update",
                    "session": self.session,
                    "peer_connections": [
                        {
                            "id": self.pc_id,
                            "description": {"type": "answer", "revision": revision, "sdp": answer},
                        }
                    ],
                }
            )
        elif kind == "answer" and isinstance(text, str):
            if self._answer is not None and not self._answer.done() and revision == self._offer_revision:
                self._answer.set_result((revision, text))
        elif kind == "close":
            await self.participant.room.disconnect(self.participant)

    async def _answer_offer(self, revision: int, offer: str) -> str:
        async with self._lock:
            pc = self.pc
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            if rtc_adapter.follow_ice_restart(pc, offer):
                log.info("%s restarted ICE", self.participant.identity)
            rtc_adapter.answer_as_dtls_server(pc, offer)
            codec = self.participant.room.settings.codec
            for transceiver in pc.getTransceivers():
                if transceiver.kind in ("audio", "video") and not isinstance(
                    transceiver.sender.track, Subscription
                ):
                    try:
                        rtc_adapter.restrict_answer_codecs(transceiver, codec)
                    except ValueError:
                        pass  # the client offers nothing we forward here; it simply gets no media
            await pc.setLocalDescription(await pc.createAnswer())
            self.client_sdp = offer
            self._mids = {s.track_id: s.mid for s in sdp_text.sections(offer) if s.track_id and s.mid}
            self.revision = max(self.revision, revision)
            self._candidates.clear()
            return rtc_adapter.announce(pc.localDescription.sdp)

    async def _ice(self, ice: dict[str, Any]) -> None:
        for item in ice.get("candidates") or []:
            if not isinstance(item, dict) or not isinstance(item.get("candidate"), str):
                continue
            line = item["candidate"]
            if line in self._candidates or not line.strip():
                continue
            self._candidates.add(line)
            try:
                candidate: RTCIceCandidate = candidate_from_sdp(
                    line.split(":", 1)[1] if line.startswith("candidate:") else line
                )
            except (ValueError, IndexError):
                continue
            if not rtc_adapter.reachable(candidate.ip):
                continue
            candidate.sdpMid = item.get("sdpMid")
            candidate.sdpMLineIndex = item.get("sdpMLineIndex")
            if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
                candidate.sdpMLineIndex = 0
            try:
                await self.pc.addIceCandidate(candidate)
            except Exception as exc:  # a candidate for a section aiortc does not know
                log.debug("ignored candidate %s: %s", line, exc)

    def _transceiver_of(self, track_id: str):
        mid = self._mids.get(track_id)
        if mid is None:
            return None
        return next((t for t in self.pc.getTransceivers() if t.mid == mid), None)

    async def resync(self, sync: dict[str, Any]) -> None:
        """A resumed socket: the full state in `synced`, then whatever the gap swallowed."""
        room = self.participant.room
        others = [p for p in room.visible() if p is not self.participant]
        await self.signals.tcmp.send(
            {
                "type": "synced",
                "session": self.session,
                "participants": [participant_state(p, self.signals.revision(p.sid)) for p in others],
                "published": self._published(),
                "subscribed": self._subscribed(),
            }
        )
        await self.update({**sync, "type": "update"})
        if self._answer is not None and not self._answer.done() and self._offer_message is not None:
            self.signals.queue(self._offer_message)  # our offer was lost with the old socket

    # -- our offers --------------------------------------------------------------------------------
    def renegotiate(self) -> None:
        self._negotiate.set()

    def slot_rebound(self, slot: Subscription) -> None:
        self.signals.queue({"type": "update", "subscribed": self._subscribed()})

    def _subscribed(self) -> dict[str, Any]:
        self.subscribed_revision += 1
        tracks = [
            {"sid": slot.source.sid, "id": slot.id}
            for slot in self.participant.slots
            if slot.source and slot.mid
        ]
        tracks += [{"sid": sid, "id": sid} for sid in self.participant.data_out]
        return {"revision": self.subscribed_revision, "tracks": tracks}

    async def _offers(self) -> None:
        participant = self.participant
        await self._ready.wait()
        # aiortc starts its receivers with the remote description current at the first connect:
        # an offer of ours answered before then left the client's published tracks unrouted.
        connected = asyncio.Event()
        self.pc.on(
            "connectionstatechange", lambda: self.pc.connectionState == "connected" and connected.set()
        )
        if self.pc.connectionState == "connected":
            connected.set()
        await connected.wait()
        # Opened by the server on the client's connection; the offer below negotiates them.
        if "active_speaker" in self.channels and self.speaker_channel is None:
            self.speaker_channel = ActiveSpeakerChannel(self.pc, participant.room.speakers.current)
            self._negotiate.set()
        if "network_quality" in self.channels and self.quality_channel is None:
            self.quality_channel = NetworkQualityChannel(self.pc, participant)
            self._negotiate.set()
        while not participant.closed:
            await self._negotiate.wait()
            self._negotiate.clear()
            try:
                async with self._lock:
                    pc = self.pc
                    codec = participant.room.settings.codec
                    for transceiver in pc.getTransceivers():
                        if transceiver.kind in ("audio", "video"):
                            transceiver.setCodecPreferences(
                                rtc_adapter.codec_preferences(transceiver.kind, codec)
                            )
                    offer = await rtc_adapter.create_offer_keeping_negotiated(pc)
                    await pc.setLocalDescription(
                        RTCSessionDescription(
                            sdp=sdp_text.align_offer(offer.sdp, self.client_sdp), type="offer"
                        )
                    )
                    for transceiver in pc.getTransceivers():
                        if isinstance(transceiver.sender.track, Subscription):
                            transceiver.sender.track.mid = transceiver.mid
                    self.revision += 1
                    self._offer_revision = self.revision
                    self._answer = asyncio.get_running_loop().create_future()
                    self._offer_message = {
                        "type": "update",
                        "session": self.session,
                        "peer_connections": [
                            {
                                "id": self.pc_id,
                                "description": {
                                    "type": "offer",
                                    "revision": self._offer_revision,
                                    "sdp": rtc_adapter.announce(pc.localDescription.sdp),
                                },
                            }
                        ],
                        "subscribed": self._subscribed(),
                    }
                    self.signals.queue(self._offer_message)
                _, answer = await asyncio.wait_for(self._answer, ANSWER_TIMEOUT)
                async with self._lock:
                    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a client that cannot answer is disconnected
                if not participant.closed:
                    log.warning("negotiation with %s failed: %s", participant.identity, exc)
                    await participant.room.disconnect(
                        participant, MEDIA_CONNECTION_FAILED, f"negotiation failed: {exc}"
                    )
                return

    def close(self) -> None:
        self._loop.cancel()
        if self._answer is not None and not self._answer.done():
            self._answer.cancel()
        self.signals.close()


@dataclass
class ResumableSession:
    """One SDK participant across its sockets: a dropped socket may be replaced, within
    SESSION_TIMEOUT, by a new one whose hello carries `sync` with this session's id."""

    id: str
    participant: Participant
    signals: TwilioSignals
    negotiator: TwilioNegotiator
    socket: int = 0  # which socket serves it now; a resume moves it on


SESSIONS: dict[str, ResumableSession] = {}
# Told the first `connect` or `sync` of a socket; True when it took the socket elsewhere (a
# cluster relaying it to the room's node), so this node serves it no further.
ElsewhereHook = Callable[[dict[str, Any]], Awaitable[bool]]


async def session(sfu: Sfu, tcmp: TcmpConnection, elsewhere: ElsewhereHook | None = None) -> None:
    """Serve one twilio-video.js socket from `hello` to its last message."""
    body = await tcmp.handshake()
    try:
        if body is not None and body.get("type") == "ice":
            # Before `connect`, so before its token: coturn's username names the SDK, not a person.
            await tcmp.send({"type": "iced", "ice_servers": ice_servers(sfu.settings.turn, "twilio-video")})
            body = await tcmp.receive()
        if body is None:
            return
        if elsewhere is not None and body.get("type") in ("connect", "sync") and await elsewhere(body):
            return
        if body.get("type") == "sync":
            await resume(sfu, tcmp, body)
        elif body.get("type") == "connect":
            await serve(sfu, tcmp, body)
        else:
            await refuse(tcmp, MESSAGE_INVALID, f"expected connect, not {body.get('type')!r}")
    finally:
        await tcmp.close(1000)


async def refuse(tcmp: TcmpConnection, code: int, message: str) -> None:
    await tcmp.send({"type": "error", "code": code, "message": message})
    # The SDK answers an error with disconnect and bye, then closes: give it a moment to.
    try:
        await asyncio.wait_for(tcmp.receive(), 2)
    except TimeoutError:
        pass


async def serve(sfu: Sfu, tcmp: TcmpConnection, connect: dict[str, Any]) -> None:
    token, name = connect.get("token"), connect.get("name")
    if name is not None and not isinstance(name, str):
        await refuse(tcmp, ROOM_NAME_REQUIRED, "Room name is invalid")
        return
    try:
        grant = await sfu.authenticate(token if isinstance(token, str) else "", name)
    except AccessTokenError as exc:
        await refuse(tcmp, exc.code, exc.message)
        return
    # A cluster node's sessions end in its id, so a resuming socket that reaches another node
    # is relayed back here (pipeline/cluster).
    session_id = "SS" + uuid.uuid4().hex + (f".{sfu.node_id}" if sfu.node_id else "")
    signals = TwilioSignals(tcmp)

    def make(sid: str, identity: str, room: Room, hidden: bool) -> Participant:
        participant = Participant(sid, identity, room, signals, hidden=hidden, one_connection=True)
        signals.negotiator = TwilioNegotiator(participant, signals, connect, session_id)
        participant.negotiator = signals.negotiator
        return participant

    try:
        participant = await sfu.join(grant, make)
    except SignalingError as exc:
        signals.close()
        await refuse(tcmp, exc.code, exc.message)
        return
    assert signals.negotiator is not None
    state = ResumableSession(session_id, participant, signals, signals.negotiator)
    SESSIONS[session_id] = state
    bind(room_sid=participant.room.sid, participant_sid=participant.sid)
    log.info("%s connected (twilio-video.js)", participant.identity)
    state.negotiator.start_tracks()
    await run(state, tcmp)


async def resume(sfu: Sfu, tcmp: TcmpConnection, sync: dict[str, Any]) -> None:
    state = SESSIONS.get(str(sync.get("session")))
    token = sync.get("token")
    if state is None or state.participant.closed:
        await refuse(tcmp, SIGNALING_DISCONNECTED, "The session to resume is gone")
        return
    try:
        grant = await sfu.authenticate(token if isinstance(token, str) else "", state.participant.room.sid)
    except AccessTokenError as exc:
        await refuse(tcmp, exc.code, exc.message)
        return
    if (
        grant.identity != state.participant.identity
        or grant.account_sid != state.participant.room.settings.account_sid
    ):
        await refuse(tcmp, INVALID_TOKEN, "Invalid Access Token: it is not this session's")
        return
    # The old socket may look alive still (a client whose network dropped goes silent before
    # it closes): the new one takes over now.
    state.socket += 1
    old, state.signals.tcmp = state.signals.tcmp, tcmp
    await old.close(1000)
    bind(room_sid=state.participant.room.sid, participant_sid=state.participant.sid)
    log.info("%s resumed its session (twilio-video.js)", state.participant.identity)
    await state.negotiator.resync(sync)
    await run(state, tcmp)


async def run(state: ResumableSession, tcmp: TcmpConnection) -> None:
    """Read one socket; when it drops, hold the participant for a resume, or let it go."""
    participant = state.participant
    socket = state.socket
    dropped = await read(state, tcmp)
    if state.socket != socket:
        return  # a resumed socket took over
    if dropped and not participant.closed:
        await tcmp.close(1000)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SESSION_TIMEOUT
        while state.socket == socket and not participant.closed and loop.time() < deadline:
            await asyncio.sleep(0.1)
        if state.socket != socket:
            return  # the resumed socket carries on
    if SESSIONS.get(state.id) is state:
        del SESSIONS[state.id]
    await participant.room.disconnect(participant)
    await state.signals.flush()
    log.info("%s disconnected (twilio-video.js)", participant.identity)


async def read(state: ResumableSession, tcmp: TcmpConnection) -> bool:
    """Serve the client's messages; True when the socket dropped without the client leaving."""
    participant = state.participant
    ended = asyncio.ensure_future(participant.ended.wait())
    try:
        while not participant.closed:
            incoming = asyncio.ensure_future(tcmp.receive())
            await asyncio.wait({incoming, ended}, return_when=asyncio.FIRST_COMPLETED)
            if not incoming.done():
                incoming.cancel()
                return False
            message = incoming.result()
            if message is None:
                return not tcmp.said_bye
            if message.get("type") == "disconnect":
                return False
            if message.get("type") == "update":
                try:
                    await state.negotiator.update(message)
                except Exception as exc:  # one bad update must not end the session
                    log.warning("update from %s failed: %s", participant.identity, exc)
        return False
    finally:
        ended.cancel()
