"""The live room's state in the database, so REST resources and room callbacks reflect it.

Each function is one short transaction, run off the event loop by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline import callbacks
from pipeline.db import Database
from pipeline.db.models import ApiKey, Composition, Participant, PublishedTrack, Recording, Room, utcnow
from pipeline.error_codes import ROOM_COMPLETED, ROOM_CREATE_FAILED, ROOM_NOT_FOUND
from pipeline.rooms import complete_room, disconnect_participant
from pipeline.sfu.errors import SfuError
from pipeline.sids import is_sid, new_sid


class RoomUnavailable(SfuError):
    pass


@dataclass(frozen=True)
class RoomSettings:
    sid: str
    account_sid: str
    name: str
    created: datetime
    codec: str
    audio_only: bool
    max_participants: int
    max_participant_duration: int  # seconds
    empty_room_timeout: int  # minutes
    unused_room_timeout: int  # minutes
    recording_rules: list
    max_published_tracks: int = 0  # MaxConcurrentPublishedTracks; 0 is Twilio's "unconstrained"


def _settings(room: Room) -> RoomSettings:
    return RoomSettings(
        sid=room.sid,
        account_sid=room.account_sid,
        name=room.unique_name,
        created=room.date_created,
        codec=(room.video_codecs or ["VP8"])[0],
        audio_only=room.audio_only,
        max_participants=room.max_participants,
        max_participant_duration=room.max_participant_duration,
        empty_room_timeout=room.empty_room_timeout,
        unused_room_timeout=room.unused_room_timeout,
        recording_rules=list(room.recording_rules or []),
        max_published_tracks=room.max_concurrent_published_tracks or 0,
    )


def key_secret(db: Database, account_sid: str, key_sid: str) -> str | None:
    if not is_sid(key_sid, "SK"):
        return None
    with db.session() as session:
        key = session.get(ApiKey, key_sid)
        return key.secret if key is not None and key.account_sid == account_sid else None


def room_limit_refusal(session: Session, account_sid: str, limit: int) -> str | None:
    """Why the account may not open another room now, or None."""
    if limit <= 0:
        return None
    live = session.scalar(
        select(func.count())
        .select_from(Room)
        .where(Room.account_sid == account_sid, Room.status == "in-progress")
    )
    if live < limit:
        return None
    return f"the account already has {live} rooms in progress, its limit (ROOMREEL_MAX_CONCURRENT_ROOMS)"


def open_room(
    db: Database, account_sid: str, name: str, *, create: bool = True, max_rooms: int = 0
) -> RoomSettings:
    """The in-progress room called `name` (or with that SID); an unknown name creates it (ad hoc)
    when `create` allows and the account is under `max_rooms`."""
    with db.session() as session:
        if is_sid(name, "RM"):  # a SID names an existing room, never a new one
            room = session.get(Room, name)
            if room is None or room.account_sid != account_sid:
                raise RoomUnavailable(ROOM_NOT_FOUND, f"Room not found: {name}")
            if room.status != "in-progress":
                raise RoomUnavailable(ROOM_COMPLETED, f"Room {name} is {room.status}")
            return _settings(room)
        room = session.scalars(
            select(Room).where(
                Room.account_sid == account_sid, Room.unique_name == name, Room.status == "in-progress"
            )
        ).first()
        if room is None:
            if not create:
                raise RoomUnavailable(
                    ROOM_NOT_FOUND,
                    f"Room not found: {name} (client-side room creation is off: create it with the REST API)",
                )
            refusal = room_limit_refusal(session, account_sid, max_rooms)
            if refusal:
                raise RoomUnavailable(ROOM_CREATE_FAILED, f"Unable to create Room {name}: {refusal}")
            room = Room(sid=new_sid("RM"), account_sid=account_sid, unique_name=name)
            session.add(room)
            callbacks.room_event(session, room, "room-created")
            session.flush()
        return _settings(room)


def participant_connected(db: Database, room_sid: str, identity: str) -> tuple[str, datetime]:
    with db.session() as session:
        room = session.get(Room, room_sid)
        if room is None or room.status != "in-progress":
            raise RoomUnavailable(ROOM_COMPLETED, f"Room {room_sid} is not in progress")
        now = utcnow()
        participant = Participant(
            sid=new_sid("PA"),
            account_sid=room.account_sid,
            room_sid=room_sid,
            identity=identity,
            status="connected",
            start_time=now,
        )
        session.add(participant)
        callbacks.room_event(
            session,
            room,
            "participant-connected",
            ParticipantSid=participant.sid,
            ParticipantIdentity=identity,
            ParticipantStatus="connected",
        )
        return participant.sid, now


def participant_disconnected(db: Database, participant_sid: str) -> None:
    with db.session() as session:
        participant = session.get(Participant, participant_sid)
        if participant is None or participant.status == "disconnected":
            return
        disconnect_participant(session, session.get(Room, participant.room_sid), participant)


def track_added(
    db: Database, participant_sid: str, track_sid: str, name: str, kind: str, enabled: bool
) -> None:
    with db.session() as session:
        participant = session.get(Participant, participant_sid)
        if participant is None:
            return
        session.add(
            PublishedTrack(
                sid=track_sid,
                account_sid=participant.account_sid,
                room_sid=participant.room_sid,
                participant_sid=participant_sid,
                name=name,
                kind=kind,
                enabled=enabled,
            )
        )
        _track_event(session, participant, "track-added", track_sid, name, kind)


def track_removed(db: Database, track_sid: str) -> None:
    with db.session() as session:
        track = session.get(PublishedTrack, track_sid)
        if track is None or not track.published:
            return
        track.published = False
        participant = session.get(Participant, track.participant_sid)
        _track_event(session, participant, "track-removed", track.sid, track.name, track.kind)


def track_enabled(db: Database, track_sid: str, enabled: bool) -> None:
    with db.session() as session:
        track = session.get(PublishedTrack, track_sid)
        if track is None or track.enabled == enabled:
            return
        track.enabled = enabled
        participant = session.get(Participant, track.participant_sid)
        event = "track-enabled" if enabled else "track-disabled"
        _track_event(session, participant, event, track.sid, track.name, track.kind)


def _track_event(session, participant: Participant, event: str, sid: str, name: str, kind: str) -> None:
    callbacks.room_event(
        session,
        session.get(Room, participant.room_sid),
        event,
        ParticipantSid=participant.sid,
        ParticipantIdentity=participant.identity,
        ParticipantStatus=participant.status,
        TrackSid=sid,
        TrackName=name,
        TrackKind=kind,
    )


def recording_rules(db: Database, room_sid: str) -> list:
    with db.session() as session:
        room = session.get(Room, room_sid)
        return list(room.recording_rules or []) if room else []


def end_room(db: Database, room_sid: str) -> list[tuple[str, int]]:
    """Complete the room (idempotent); returns the compositions its hooks created, to dispatch."""
    with db.session() as session:
        room = session.get(Room, room_sid)
        if room is None or room.status != "in-progress":
            return []
        created: list[Composition] = complete_room(session, room)
        return [(c.sid, c.priority) for c in created]


def recordings_in_progress(db: Database, room_sid: str, since: datetime | None = None) -> int:
    with db.session() as session:
        query = select(Recording.sid).where(Recording.room_sid == room_sid, Recording.status == "processing")
        if since is not None:
            query = query.where(Recording.date_created >= since)
        return len(session.scalars(query).all())
