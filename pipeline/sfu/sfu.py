"""The forwarding core of one process: its live rooms, admission, and their state in the database."""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Protocol

from pipeline.db import Database
from pipeline.error_codes import (
    DUPLICATE_IDENTITY,
    PARTICIPANT_REMOVED,
    ROOM_COMPLETED,
    ROOM_FULL,
    ROOM_NAME_INVALID,
    ROOM_NAME_REQUIRED,
    ROOM_NAME_TOO_LONG,
    ROOM_NOT_FOUND,
    SIGNALING_CONNECTION_ERROR,
)
from pipeline.sids import new_sid

from . import room_state, rtc_adapter
from .access_token import AccessToken, AccessTokenError, verify
from .names import NAME_MAX, has_control_characters
from .participant import Participant, SignalingError
from .published_track import PublishedTrack
from .room import Room
from .room_state import RoomUnavailable
from .state_writer import StateWriter
from .subscription import Subscription
from .turn import TurnSettings

log = logging.getLogger("roomreel.sfu")
# (sid, identity, room, hidden) -> the participant, with its protocol's adapter in place.
ParticipantFactory = Callable[[str, str, Room, bool], Participant]


class RoomPlacement(Protocol):
    """What the core needs from a cluster (pipeline/cluster): leave to run a room here, or the
    node that runs it instead."""

    async def claim(self, room_sid: str) -> str | None: ...


@dataclass
class SfuSettings:
    # Addresses ICE binds and announces (ROOMREEL_RTC_HOSTS); loopback by default, as in the demo.
    hosts: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    # Seconds in one "minute" of EmptyRoomTimeout/UnusedRoomTimeout; tests shrink it.
    timeout_unit: float = 60.0
    # A room-wide cap on each published video track, in bits/s (ROOMREEL_MAX_VIDEO_BITRATE); 0 is none.
    max_video_bitrate: int = 0
    # UDP ports ICE binds (ROOMREEL_RTC_PORT_RANGE=50000-50199), for a firewall that opens a range;
    # None is any ephemeral port. Every peer connection of the process binds inside it.
    ports: range | None = None
    # Bound address -> the address peers reach it at (ROOMREEL_RTC_ANNOUNCE), for 1:1 NAT or a
    # container bound to 0.0.0.0 behind published ports; empty announces the bound addresses.
    announce: dict[str, str] = field(default_factory=dict)
    # Twilio's "client-side room creation" account setting (ROOMREEL_CLIENT_ROOM_CREATION=off):
    # when off, a token names only rooms made with the REST API; others are 53106.
    client_room_creation: bool = True
    # Rooms in progress at once per account (ROOMREEL_MAX_CONCURRENT_ROOMS; 0 is no limit), so
    # one leaked token cannot open rooms without end.
    max_concurrent_rooms: int = 100
    # coturn (ROOMREEL_TURN_URLS, ROOMREEL_TURN_SECRET): ICE servers handed to every client.
    turn: TurnSettings | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> SfuSettings:
        env = dict(os.environ if env is None else env)
        hosts = [h.strip() for h in env.get("ROOMREEL_RTC_HOSTS", "127.0.0.1").split(",") if h.strip()]
        return cls(
            hosts=hosts,
            timeout_unit=float(env.get("ROOMREEL_ROOM_TIMEOUT_UNIT", "60")),
            max_video_bitrate=int(env.get("ROOMREEL_MAX_VIDEO_BITRATE", "0")),
            ports=rtc_adapter.parse_port_range(env.get("ROOMREEL_RTC_PORT_RANGE", "")),
            announce=rtc_adapter.parse_announce(env.get("ROOMREEL_RTC_ANNOUNCE", ""), hosts),
            client_room_creation=env.get("ROOMREEL_CLIENT_ROOM_CREATION", "on").lower()
            not in ("off", "0", "false", "no"),
            max_concurrent_rooms=int(env.get("ROOMREEL_MAX_CONCURRENT_ROOMS", "100")),
            turn=TurnSettings.from_env(env),
        )


class Sfu:
    def __init__(
        self,
        db: Database,
        settings: SfuSettings | None = None,
        dispatch: Callable[[str, int], None] | None = None,
    ) -> None:
        self.db = db
        self.settings = settings or SfuSettings()
        self.dispatch = dispatch
        self.rooms: dict[str, Room] = {}
        # In a cluster: this node's id (it ends twilio-video.js session ids) and the placement
        # every room opened here must be claimed from; alone, neither.
        self.node_id = ""
        self.placement: RoomPlacement | None = None
        self.room_openers: list[Callable[[Room], None]] = []  # e.g. the recorder attaching itself
        # Room state reaches the database in event order; observers (the recorder) write through it too.
        self.state_writer = StateWriter()
        # One lock per room being opened; weak, so every room name ever seen is not kept for good.
        self._opening: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        rtc_adapter.install(self.settings.hosts, self.settings.ports)
        rtc_adapter.set_announced(self.settings.announce)

    async def _db(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self.state_writer.run(fn, *args)

    async def persisted(self) -> None:
        """Wait until every room-state write submitted so far is in the database."""
        await self.state_writer.persisted()

    # -- admission ----------------------------------------------------------------------------
    async def authenticate(self, token: str, room: str | None) -> AccessToken:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, lambda: verify(token, lambda ac, sk: room_state.key_secret(self.db, ac, sk), room)
        )

    async def open_room(self, account_sid: str, name: str) -> Room:
        key = f"{account_sid}/{name}"
        lock = self._opening.get(key)
        if lock is None:
            lock = self._opening[key] = asyncio.Lock()
        async with lock:
            settings = await self._db(
                partial(
                    room_state.open_room,
                    create=self.settings.client_room_creation,
                    max_rooms=self.settings.max_concurrent_rooms,
                ),
                self.db,
                account_sid,
                name,
            )
            room = self.rooms.get(settings.sid)
            if room is None or room.closed:
                if self.placement is not None and (holder := await self.placement.claim(settings.sid)):
                    raise RoomUnavailable(
                        SIGNALING_CONNECTION_ERROR,
                        f"Room {settings.sid} runs on node {holder}; connect again to reach it",
                    )
                room = Room(settings, self)
                self.rooms[settings.sid] = room
                for opener in self.room_openers:
                    opener(room)
            return room

    async def join(self, grant: AccessToken, make: ParticipantFactory) -> Participant:
        """Admit the holder of `grant`; `make` builds its Participant with the adapter of the
        protocol its client speaks (signals and negotiator)."""
        if not grant.room:
            raise SignalingError(
                ROOM_NAME_REQUIRED, "Room name is required: in the token's video grant or ?room="
            )
        if len(grant.room) > NAME_MAX:
            raise SignalingError(ROOM_NAME_TOO_LONG, f"Room name is too long: at most {NAME_MAX} characters")
        if has_control_characters(grant.room):
            raise SignalingError(ROOM_NAME_INVALID, "Room name contains invalid characters")
        try:
            room = await self.open_room(grant.account_sid, grant.room)
        except RoomUnavailable as exc:
            raise SignalingError(exc.code, exc.message) from None
        if grant.also_named is not None and grant.also_named not in (room.sid, room.settings.name):
            raise SignalingError(
                ROOM_NOT_FOUND,
                f"Room {grant.room} is not {grant.also_named!r}: the token grants another room",
            )
        # Check and admit as one step: concurrent joins must not both pass MaxParticipants or
        # both keep one identity.
        async with room.admission:
            if room.closed:
                raise SignalingError(ROOM_COMPLETED, f"Room {room.sid} is completed")
            if grant.recorder:
                participant = make(new_sid("PA"), grant.identity, room, True)
            else:
                previous = room.by_identity(grant.identity)
                if previous is not None:
                    await room.disconnect(
                        previous, DUPLICATE_IDENTITY, "Participant disconnected because of duplicate identity"
                    )
                if len(room.visible()) >= room.settings.max_participants:
                    raise SignalingError(ROOM_FULL, "Room contains too many Participants")
                try:
                    sid, _ = await self._db(
                        room_state.participant_connected, self.db, room.sid, grant.identity
                    )
                except RoomUnavailable as exc:
                    raise SignalingError(exc.code, exc.message) from None
                participant = make(sid, grant.identity, room, False)
            if room.closed:  # ended while this join waited on the database
                await participant.close()
                raise SignalingError(ROOM_COMPLETED, f"Room {room.sid} is completed")
            try:
                await participant.signals.joined(participant)
            except BaseException:
                await participant.close()
                if not participant.hidden:
                    await self._db(room_state.participant_disconnected, self.db, participant.sid)
                raise
            room.admit(participant)
        if not participant.hidden:
            limit = room.settings.max_participant_duration
            participant.expiry = asyncio.get_running_loop().call_later(
                limit, lambda: asyncio.ensure_future(self._expire(participant))
            )
        return participant

    async def _expire(self, participant: Participant) -> None:
        if not participant.closed:
            await participant.room.disconnect(
                participant, PARTICIPANT_REMOVED, "MaxParticipantDuration reached"
            )

    async def participant_left(self, room: Room, participant: Participant) -> None:
        await self._db(room_state.participant_disconnected, self.db, participant.sid)

    # -- state in the database ------------------------------------------------------------------
    def persist_track_added(self, track: PublishedTrack) -> None:
        self.state_writer.later(
            room_state.track_added,
            self.db,
            track.publisher.sid,
            track.sid,
            track.name,
            track.kind,
            track.enabled,
        )

    def persist_track_removed(self, track: PublishedTrack) -> None:
        self.state_writer.later(room_state.track_removed, self.db, track.sid)

    def persist_track_enabled(self, track: PublishedTrack, enabled: bool) -> None:
        self.state_writer.later(room_state.track_enabled, self.db, track.sid, enabled)

    # -- ending -----------------------------------------------------------------------------------
    async def end_room(self, room_sid: str) -> list[tuple[str, int]]:
        """Disconnect everyone, complete the room in the database, dispatch its hook compositions."""
        room = self.rooms.pop(room_sid, None)
        if room is not None:
            await room.close()
        await self._recordings_finished(room_sid, room.opened if room is not None else None)
        created = await self._db(room_state.end_room, self.db, room_sid)
        if self.dispatch is not None:
            for sid, priority in created:
                await asyncio.get_running_loop().run_in_executor(None, self.dispatch, sid, priority)
        return created

    def _live(self, room_sid: str, participant_sid: str) -> Participant | None:
        """The participant if it is connected to this process now."""
        room = self.rooms.get(room_sid)
        return room.participants.get(participant_sid) if room else None

    def subscribed_tracks(self, room_sid: str, participant_sid: str) -> set[str]:
        """SIDs of the tracks a live participant receives; none for one not connected here."""
        participant = self._live(room_sid, participant_sid)
        return participant.subscribed() if participant is not None else set()

    def subscribe_rules_changed(
        self, room_sid: str, participant_sid: str, rules: list[dict[str, Any]]
    ) -> None:
        participant = self._live(room_sid, participant_sid)
        if participant is not None:
            participant.follow_rules(rules, participant.room.tracks())

    def rules_changed(self, room_sid: str, rules: list[dict[str, Any]]) -> None:
        room = self.rooms.get(room_sid)
        if room is not None:
            room.rules_changed(rules)

    async def _recordings_finished(
        self, room_sid: str, since: datetime | None = None, timeout: float = 120.0
    ) -> None:
        """Hooks compose what was recorded: wait (bounded) for a separate recorder's last uploads,
        of the recordings started `since` this process opened the room."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if not await self._db(room_state.recordings_in_progress, self.db, room_sid, since):
                return
            await asyncio.sleep(0.25)
        log.warning("room %s ends with recordings still processing", room_sid)

    async def remove_participant(self, room_sid: str, participant_sid: str) -> bool:
        participant = self._live(room_sid, participant_sid)
        if participant is None:
            return False
        await participant.room.disconnect(
            participant, PARTICIPANT_REMOVED, "Participant disconnected through the REST API"
        )
        return True

    def counts(self) -> dict[str, int]:
        """What this SFU holds now (the metrics' live gauges)."""
        rooms = list(self.rooms.values())
        sinks = [sink for room in rooms for track in room.tracks() for sink in track.sinks]
        forwarded = sum(isinstance(sink, Subscription) for sink in sinks)
        return {
            "live_rooms": len(rooms),
            "live_participants": sum(len(room.visible()) for room in rooms),
            "forwarded_streams": forwarded,
            "recorded_tracks": len(sinks) - forwarded,
        }

    async def close(self) -> None:
        for sid in list(self.rooms):
            room = self.rooms.pop(sid)
            await room.close(SIGNALING_CONNECTION_ERROR, "server shutting down")
        self.state_writer.shutdown()


__all__ = ["AccessTokenError", "Sfu", "SfuSettings", "SignalingError"]
