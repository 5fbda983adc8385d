"""roomreel's signaling protocol (docs/signaling.md): JSON messages over one WebSocket per
participant, two peer connections (the client offers to publish, the SFU offers to subscribe).
An adapter onto the room core: `RoomreelSignals` and `RoomreelNegotiator`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCSessionDescription

from pipeline.error_codes import (
    INVALID_PARAMETER,
    NO_SUPPORTED_CODEC,
    OFFER_REFUSED,
    SIGNALING_CONNECTION_ERROR,
    TRACK_NAME_DUPLICATED,
)
from pipeline.logs import bind

from . import rtc_adapter
from .access_token import AccessTokenError
from .participant import Participant, SignalingError, check_track_name
from .published_track import PublishedTrack
from .room import Room
from .sfu import Sfu
from .subscription import Subscription
from .turn import ice_servers

log = logging.getLogger("roomreel.sfu")

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any] | None]]  # None when the socket closed
Close = Callable[[int, str], Awaitable[None]]
ANSWER_TIMEOUT = 15.0

CLOSE_REFUSED = 4401  # token refused
CLOSE_ERROR = 4400  # protocol error or room refused


async def session(
    sfu: Sfu, token: str | None, room: str | None, receive: Receive, send: Send, close: Close
) -> None:
    """Admit the participant, then serve its messages until it leaves or is disconnected."""
    try:
        grant = await sfu.authenticate(token or "", room)
    except AccessTokenError as exc:
        await send({"type": "error", "code": exc.code, "message": exc.message})
        await close(CLOSE_REFUSED, exc.message[:120])
        return

    def make(sid: str, identity: str, room: Room, hidden: bool) -> Participant:
        signals = RoomreelSignals(send)
        participant = Participant(sid, identity, room, signals, hidden=hidden)
        signals.participant = participant
        participant.negotiator = RoomreelNegotiator(participant, signals)
        return participant

    try:
        participant = await sfu.join(grant, make)
    except SignalingError as exc:
        await send({"type": "error", "code": exc.code, "message": exc.message})
        await close(CLOSE_ERROR, exc.message[:120])
        return
    bind(room_sid=participant.room.sid, participant_sid=participant.sid)
    log.info("%s connected", participant.identity)
    ended = asyncio.ensure_future(participant.ended.wait())
    try:
        while not participant.closed:
            # Also stop when the SFU ends the participant (replaced, removed, room completed),
            # so the socket closes then and not at the client's next message.
            incoming = asyncio.ensure_future(receive())
            await asyncio.wait({incoming, ended}, return_when=asyncio.FIRST_COMPLETED)
            if not incoming.done():
                incoming.cancel()
                break
            message = incoming.result()
            if message is None:
                break
            try:
                done = await handle(participant, message)
            except SignalingError as exc:
                await send({"type": "error", "code": exc.code, "message": exc.message})
                continue
            if done:
                break
    finally:
        ended.cancel()
        await participant.room.disconnect(participant)
        await close(1000, "bye")
        log.info("%s disconnected", participant.identity)


async def handle(participant: Participant, message: dict[str, Any]) -> bool:
    """Apply one client message; True when the participant leaves."""
    kind = message.get("type")
    if kind == "publish":
        sdp = message.get("sdp")
        if sdp is not None and not isinstance(sdp, str):
            raise SignalingError(INVALID_PARAMETER, "publish: sdp must be a string")
        tracks = message.get("tracks")
        if not isinstance(tracks, list) or not tracks:
            raise SignalingError(INVALID_PARAMETER, "publish: tracks must be a non-empty list")
        try:
            await negotiator(participant).publish(sdp, tracks)
        except SignalingError:
            raise
        except Exception as exc:  # aiortc rejects malformed or incompatible SDP with assorted errors
            raise SignalingError(OFFER_REFUSED, f"publish: the offer was refused: {exc}") from None
    elif kind == "answer":
        sdp = message.get("sdp")
        if not isinstance(sdp, str):
            raise SignalingError(INVALID_PARAMETER, "answer: sdp must be a string")
        negotiator(participant).answer(sdp)
    elif kind == "unpublish":
        await participant.unpublish(str(message.get("name")))
    elif kind == "enable":
        await participant.set_enabled(str(message.get("name")), message.get("enabled") is not False)
    elif kind == "ping":
        await negotiator(participant).send({"type": "pong"})
    elif kind == "leave":
        return True
    else:
        raise SignalingError(INVALID_PARAMETER, f"unknown message type {kind!r}")
    return False


def negotiator(participant: Participant) -> RoomreelNegotiator:
    assert isinstance(participant.negotiator, RoomreelNegotiator)
    return participant.negotiator


class RoomreelSignals:
    """Room events as roomreel's JSON messages, queued in order on the participant's socket."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.participant: Participant | None = None

    async def send(self, message: dict[str, Any]) -> None:
        if self.participant is not None and self.participant.closed:
            return
        try:
            await self._send(message)
        except Exception:  # the socket went away; the session loop notices and cleans up
            pass

    def _queue(self, message: dict[str, Any]) -> None:
        asyncio.ensure_future(self.send(message))

    async def joined(self, participant: Participant) -> None:
        room = participant.room
        await self._send(
            {
                "type": "joined",
                "room": {"sid": room.sid, "name": room.settings.name, "codec": room.settings.codec},
                "participant": {"sid": participant.sid, "identity": participant.identity},
                "participants": [p.describe() for p in room.visible()],
                # STUN/TURN for this client's two peer connections; [] is host candidates only.
                "ice_servers": ice_servers(participant.room.sfu.settings.turn, participant.identity),
            }
        )

    def participant_connected(self, other: Participant) -> None:
        self._queue({"type": "participant_connected", "participant": other.describe()})

    def participant_disconnected(self, other: Participant) -> None:
        self._queue(
            {"type": "participant_disconnected", "participant_sid": other.sid, "identity": other.identity}
        )

    def track_published(self, track: PublishedTrack) -> None:
        self._queue({"type": "track_published", "track": Room.describe_track(track)})

    def track_unpublished(self, track: PublishedTrack) -> None:
        self._queue(
            {"type": "track_unpublished", "track_sid": track.sid, "participant_sid": track.publisher.sid}
        )

    def track_enabled(self, track: PublishedTrack, enabled: bool) -> None:
        kind = "track_enabled" if enabled else "track_disabled"
        self._queue({"type": kind, "track_sid": track.sid, "participant_sid": track.publisher.sid})

    def dominant_speaker_changed(self, speaker: Participant | None) -> None:
        self._queue(
            {
                "type": "dominant_speaker",
                "participant_sid": speaker.sid if speaker else None,
                "identity": speaker.identity if speaker else None,
            }
        )

    async def disconnected(self, code: int, reason: str) -> None:
        await self.send({"type": "disconnected", "code": code, "message": reason})


class RoomreelNegotiator:
    """The publisher connection answers the client's `publish` offers; the subscriber connection
    offers, one offer at a time, whenever subscriptions change shape."""

    def __init__(self, participant: Participant, signals: RoomreelSignals) -> None:
        self.participant = participant
        self.send = signals.send
        self._pending_mids: dict[str, dict[str, Any]] = {}
        self._negotiate = asyncio.Event()
        self._answer: asyncio.Future[str] | None = None
        self._loop = asyncio.ensure_future(self._negotiation_loop())

    # -- publishing ---------------------------------------------------------------------------
    async def publish(self, sdp: str | None, tracks: list[dict[str, Any]]) -> None:
        """Handle the client's `publish`: an offer (optional when reusing transceivers) and names."""
        participant = self.participant
        if participant.hidden:
            raise SignalingError(INVALID_PARAMETER, "publish: a recorder only receives")
        wanted: dict[str, dict[str, Any]] = {}
        for item in tracks:
            if not isinstance(item, dict) or item.get("kind") not in ("audio", "video", "data"):
                raise SignalingError(
                    INVALID_PARAMETER, "publish: every track needs kind audio, video or data"
                )
            name = item.get("name")
            if not isinstance(name, str):
                raise SignalingError(
                    INVALID_PARAMETER, "publish: every track needs a name of 1 to 128 characters"
                )
            check_track_name(name)
            if name in participant.tracks:
                raise SignalingError(TRACK_NAME_DUPLICATED, f"Track name is duplicated: {name}")
            if item["kind"] == "video" and participant.room.settings.audio_only:
                raise SignalingError(INVALID_PARAMETER, "publish: this room is audio-only")
            if item["kind"] != "data" and not isinstance(item.get("mid"), str):
                raise SignalingError(
                    INVALID_PARAMETER, f"publish: track {name} needs the mid of its transceiver"
                )
            wanted[name] = item
        participant.check_capacity(len(wanted))
        for item in wanted.values():
            if item["kind"] != "data":
                self._pending_mids[item["mid"]] = item
        publisher = participant.publisher
        answer = None
        if sdp is not None:
            await publisher.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            rtc_adapter.answer_as_dtls_server(publisher, sdp)
        # Every named mid must exist before anything is answered or published: all or nothing.
        transceivers = {t.mid: t for t in publisher.getTransceivers()}
        for item in wanted.values():
            if item["kind"] != "data" and item["mid"] not in transceivers:
                raise SignalingError(INVALID_PARAMETER, f"publish: no transceiver with mid {item['mid']}")
        if sdp is not None:
            for transceiver in publisher.getTransceivers():
                if transceiver.mid in self._pending_mids:
                    try:
                        rtc_adapter.restrict_answer_codecs(transceiver, participant.room.settings.codec)
                    except ValueError as exc:
                        raise SignalingError(NO_SUPPORTED_CODEC, f"publish: {exc}") from None
            await publisher.setLocalDescription(await publisher.createAnswer())
            answer = rtc_adapter.announce(publisher.localDescription.sdp)
        published = []
        for name, item in wanted.items():
            kind = item["kind"]
            enabled = item.get("enabled", True) is not False
            if kind == "data":
                track = participant.start_track(name, "data", enabled)
            else:
                self._pending_mids.pop(item["mid"], None)
                track = participant.start_track(name, kind, enabled, transceivers[item["mid"]])
            published.append({**track.describe(), "mid": item.get("mid")})
        await participant.room.sfu.persisted()  # once answered, the REST API lists the tracks
        await self.send({"type": "publish_answer", "sdp": answer, "tracks": published})

    # -- subscribing --------------------------------------------------------------------------
    def renegotiate(self) -> None:
        self._negotiate.set()

    def slot_rebound(self, slot: Subscription) -> None:
        if slot.mid is not None:  # otherwise announced with the offer that creates it
            message = {"type": "slot", "mid": slot.mid, "track": self.participant.slot_track(slot)}
            asyncio.ensure_future(self.send(message))

    async def _negotiation_loop(self) -> None:
        """One offer at a time; changes made while an offer is out go into the next one."""
        participant = self.participant
        subscriber = participant.subscriber
        while not participant.closed:
            await self._negotiate.wait()
            self._negotiate.clear()
            try:
                await subscriber.setLocalDescription(await subscriber.createOffer())
                for transceiver in subscriber.getTransceivers():
                    slot = transceiver.sender.track
                    if isinstance(slot, Subscription):
                        slot.mid = transceiver.mid
                slots = {s.mid: participant.slot_track(s) for s in participant.slots if s.mid}
                data = {sid: participant.data_track(sid) for sid in participant.data_out}
                self._answer = asyncio.get_running_loop().create_future()
                await self.send(
                    {
                        "type": "offer",
                        "sdp": rtc_adapter.announce(subscriber.localDescription.sdp),
                        "slots": slots,
                        "data": data,
                    }
                )
                sdp = await asyncio.wait_for(self._answer, ANSWER_TIMEOUT)
                await subscriber.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a client that cannot answer is disconnected
                if not participant.closed:
                    log.warning("negotiation with %s failed: %s", participant.identity, exc)
                    await participant.room.disconnect(
                        participant, SIGNALING_CONNECTION_ERROR, f"negotiation failed: {exc}"
                    )
                return

    def answer(self, sdp: str) -> None:
        if self._answer is None or self._answer.done():
            raise SignalingError(INVALID_PARAMETER, "answer: no offer is outstanding")
        self._answer.set_result(sdp)

    def close(self) -> None:
        self._loop.cancel()
        if self._answer is not None and not self._answer.done():
            self._answer.cancel()
