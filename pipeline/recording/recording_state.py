"""Recording rows and their callbacks; each function is one short transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from pipeline import callbacks
from pipeline.db import Database
from pipeline.db.models import Participant, Recording, Room

from .finalize import CONTAINERS


def _event(session, recording: Recording, event: str, **params: Any) -> None:
    room = session.get(Room, recording.room_sid)
    participant = session.get(Participant, recording.participant_sid)
    callbacks.room_event(
        session,
        room,
        event,
        RecordingSid=recording.sid,
        RecordingUri=f"/v1/Recordings/{recording.sid}",
        SourceSid=recording.source_sid,
        TrackSid=recording.source_sid,
        TrackKind=recording.type,
        Type=recording.type,
        ParticipantSid=recording.participant_sid,
        ParticipantIdentity=participant.identity if participant is not None else None,
        TrackName=recording.track_name,
        OffsetFromTwilioVideoEpoch=recording.offset,
        Container=recording.container_format,
        Codec=recording.codec,
        **params,
    )


def recording_started(
    db: Database,
    sid: str,
    room_sid: str,
    participant_sid: str,
    track_sid: str,
    track_name: str,
    kind: str,
    codec: str,
) -> None:
    with db.session() as session:
        room = session.get(Room, room_sid)
        recording = Recording(
            sid=sid,
            account_sid=room.account_sid,
            room_sid=room_sid,
            participant_sid=participant_sid,
            source_sid=track_sid,
            track_name=track_name,
            type=kind,
            codec={"vp8": "VP8", "h264": "H264", "opus": "OPUS"}.get(codec.lower(), codec.upper()),
            container_format=CONTAINERS[kind],
            status="processing",
            offset=int(room.date_created.timestamp() * 1000),
        )
        session.add(recording)
        _event(session, recording, "recording-started")


def add_event(db: Database, sid: str, t: float, kind: str) -> None:
    with db.session() as session:
        recording = session.get(Recording, sid)
        if recording is not None:
            recording.events = [*(recording.events or []), {"t": round(t, 3), "type": kind}]


def recording_completed(
    db: Database,
    sid: str,
    key: str,
    size: int,
    start: float,
    duration: float,
    width: int | None,
    height: int | None,
    external: str | None,
) -> None:
    with db.session() as session:
        recording = session.get(Recording, sid)
        if recording is None or recording.status != "processing":
            return
        recording.status = "completed"
        recording.media_key = key
        recording.size = size
        recording.start = round(start, 3)
        recording.end = round(start + duration, 3)
        recording.duration = max(1, round(duration))
        recording.width, recording.height = width, height
        recording.media_external_location = external
        _event(
            session,
            recording,
            "recording-completed",
            Duration=recording.duration,
            Size=size,
            MediaUri=f"/v1/Recordings/{sid}/Media",
        )


def recording_failed(db: Database, sid: str, reason: str) -> None:
    with db.session() as session:
        recording = session.get(Recording, sid)
        if recording is None or recording.status != "processing":
            return
        recording.status = "failed"
        recording.error_message = reason
        _event(session, recording, "recording-failed", ErrorMessage=reason)


def unfinished(db: Database, exclude: set[str] = frozenset()) -> list[tuple[str, str]]:
    """(recording SID, room SID) of recordings still `processing` that no live recorder owns."""
    with db.session() as session:
        rows = session.execute(
            select(Recording.sid, Recording.room_sid).where(Recording.status == "processing")
        ).all()
        return [(sid, room) for sid, room in rows if sid not in exclude]


def room_created_at(db: Database, room_sid: str) -> float:
    with db.session() as session:
        return session.get(Room, room_sid).date_created.timestamp()
