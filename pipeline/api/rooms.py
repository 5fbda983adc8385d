"""Rooms and their RecordingRules (a room's Participants and their tracks are participants.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from pipeline import callbacks
from pipeline.db.models import Participant, PublishedTrack, Room, utcnow
from pipeline.error_codes import (
    MAX_PARTICIPANT_DURATION_INVALID,
    ROOM_CREATE_FAILED,
    ROOM_EXISTS,
)
from pipeline.rooms import InvalidRules, complete_room, validate_rules
from pipeline.sfu.room_state import room_limit_refusal
from pipeline.sids import new_sid

from . import openapi, render
from .context import Call, call, in_session
from .errors import ApiError, invalid, not_found
from .paging import page
from .params import DATE_FILTERS, PAGING, created_between

router = APIRouter(prefix="/v1/Rooms")

CREATE = {
    "EnableTurn",
    "Type",
    "UniqueName",
    "StatusCallback",
    "StatusCallbackMethod",
    "MaxParticipants",
    "RecordParticipantsOnConnect",
    "TranscribeParticipantsOnConnect",
    "VideoCodecs",
    "MediaRegion",
    "RecordingRules",
    "TranscriptionsConfiguration",
    "AudioOnly",
    "MaxParticipantDuration",
    "EmptyRoomTimeout",
    "UnusedRoomTimeout",
    "LargeRoom",
}


def find_room(session: Session, account_sid: str, sid: str) -> Room:
    room = session.get(Room, sid) if sid.startswith("RM") else None
    if room is None:
        room = session.scalars(
            select(Room).where(
                Room.account_sid == account_sid, Room.unique_name == sid, Room.status == "in-progress"
            )
        ).first()
    if room is None or room.account_sid != account_sid:
        raise not_found(f"/Rooms/{sid}")
    return room


def rules_param(c: Call, name: str, subscribe: bool = False) -> list | None:
    raw = c.params.json(name, name)
    if raw is None:
        return None
    if isinstance(raw, dict):
        raw = raw.get("rules")
    try:
        return validate_rules(raw, name, subscribe)
    except InvalidRules as exc:
        raise invalid(exc.field, exc.reason, exc.code) from None


@router.post("", openapi_extra=openapi.form(CREATE))
async def create_room(request: Request):
    c = await call(request, CREATE)
    p = c.params
    room_type = p.str("Type", "group", choices=("group", "group-small", "go", "peer-to-peer"))
    codecs = p.list("VideoCodecs") or ["VP8"]
    for codec in codecs:
        if codec not in ("VP8", "H264"):
            raise invalid("VideoCodecs", "items must be VP8 or H264")
    record = p.bool("RecordParticipantsOnConnect", False)
    rules = rules_param(c, "RecordingRules")
    if rules is None:
        rules = [{"type": "include", "all": True}] if record else []
    fields = dict(
        type=room_type,
        unique_name=p.str("UniqueName"),
        status_callback=p.callback(),
        status_callback_method=p.str("StatusCallbackMethod", "POST", choices=("GET", "POST")),
        max_participants=p.int("MaxParticipants", 50, 1, 50),
        max_participant_duration=max_participant_duration(p.int("MaxParticipantDuration", 14400)),
        record_participants_on_connect=record,
        video_codecs=codecs,
        media_region=p.str("MediaRegion", "us1", max_len=16),
        audio_only=p.bool("AudioOnly", False),
        empty_room_timeout=p.int("EmptyRoomTimeout", 5, 1, 60),
        unused_room_timeout=p.int("UnusedRoomTimeout", 5, 1, 60),
        large_room=p.bool("LargeRoom", False),
        recording_rules=rules,
    )

    sfu = request.app.state.sfu
    room_limit = sfu.settings.max_concurrent_rooms

    def work(session):
        sid = new_sid("RM")
        name = fields["unique_name"] or sid
        taken = session.scalars(
            select(Room).where(
                Room.account_sid == c.account.sid, Room.unique_name == name, Room.status == "in-progress"
            )
        ).first()
        if taken:
            raise ApiError(400, ROOM_EXISTS, f"Room exists: UniqueName {name} is in use by {taken.sid}")
        refusal = room_limit_refusal(session, c.account.sid, room_limit)
        if refusal:
            raise ApiError(429, ROOM_CREATE_FAILED, f"Unable to create Room: {refusal}")
        room = Room(sid=sid, account_sid=c.account.sid, **{**fields, "unique_name": name})
        session.add(room)
        callbacks.room_event(session, room, "room-created")
        session.flush()
        return render.room(room, c.base)

    created = await in_session(c, work)
    # Live from now, so UnusedRoomTimeout counts from creation even if nobody ever joins.
    await request.app.state.live_rooms.open_room(c.account.sid, created["sid"])
    return JSONResponse(created, status_code=201)


def max_participant_duration(seconds: int) -> int:
    if not 600 <= seconds <= 86400:
        raise invalid(
            "MaxParticipantDuration",
            "must be between 600 and 86400 seconds",
            MAX_PARTICIPANT_DURATION_INVALID,
        )
    return seconds


@router.get("", openapi_extra=openapi.query({"Status", "UniqueName", *DATE_FILTERS, *PAGING}))
async def list_rooms(request: Request):
    c = await call(request, {"Status", "UniqueName", *DATE_FILTERS, *PAGING})
    p = c.params
    status = p.str("Status", "in-progress", choices=("in-progress", "completed", "failed"))
    query = select(Room).where(Room.account_sid == c.account.sid, Room.status == status)
    if (name := p.str("UniqueName")) is not None:
        query = query.where(Room.unique_name == name)
    query = created_between(query, Room.date_created, p)
    query = query.order_by(Room.date_created.desc(), Room.sid)

    return await in_session(
        c,
        lambda session: page(
            session, query, p, f"{c.base}/v1/Rooms", "rooms", lambda r: render.room(r, c.base)
        ),
    )


@router.get("/{sid}")
async def fetch_room(request: Request, sid: str):
    c = await call(request, set())

    return await in_session(c, lambda session: render.room(find_room(session, c.account.sid, sid), c.base))


@router.post("/{sid}", openapi_extra=openapi.form({"Status"}))
async def update_room(request: Request, sid: str):
    c = await call(request, {"Status"})
    status = c.params.str("Status", required=True, choices=("completed",))

    room_sid = await in_session(c, lambda session: find_room(session, c.account.sid, sid).sid)
    if status == "completed":
        # A live room, on whichever node runs it: everyone is disconnected (and recordings
        # end) before it completes.
        await request.app.state.live_rooms.end_room(room_sid)

    def work(session):
        room = find_room(session, c.account.sid, room_sid)
        created = []
        if status == "completed" and room.status == "in-progress":
            created = [(x.sid, x.priority) for x in complete_room(session, room)]
        return render.room(room, c.base), created

    body, created = await in_session(c, work)
    for composition_sid, priority in created:
        await run_in_threadpool(request.app.state.dispatcher.composition, composition_sid, priority)
    return JSONResponse(body, status_code=202)


@router.get("/{sid}/RecordingRules")
async def fetch_rules(request: Request, sid: str):
    c = await call(request, set())

    return await in_session(c, lambda session: render.recording_rules(find_room(session, c.account.sid, sid)))


@router.post("/{sid}/RecordingRules", openapi_extra=openapi.form({"Rules"}))
async def update_rules(request: Request, sid: str):
    c = await call(request, {"Rules"})
    rules = rules_param(c, "Rules")
    if rules is None:
        raise invalid("Rules", "is required")

    def work(session):
        room = find_room(session, c.account.sid, sid)
        check_rule_sids(session, room, rules)
        room.recording_rules = rules
        room.rules_updated = utcnow()
        return render.recording_rules(room)

    body = await in_session(c, work)
    await request.app.state.live_rooms.rules_changed(
        body["room_sid"], rules
    )  # live recordings start/stop now
    return body


def check_rule_sids(session: Session, room: Room, rules: list[dict]) -> None:
    """A publisher or track named by SID must belong to the room (names may join later)."""
    for i, rule in enumerate(rules):
        publisher, track = rule.get("publisher"), rule.get("track")
        if isinstance(publisher, str) and publisher.startswith("PA") and len(publisher) == 34:
            found = session.get(Participant, publisher)
            if found is None or found.room_sid != room.sid:
                raise invalid(f"Rules[{i}].publisher", f"no participant {publisher} in room {room.sid}")
        if isinstance(track, str) and track.startswith("MT") and len(track) == 34:
            found = session.get(PublishedTrack, track)
            if found is None or found.room_sid != room.sid:
                raise invalid(f"Rules[{i}].track", f"no track {track} in room {room.sid}")
