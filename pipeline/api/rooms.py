"""Rooms, their Participants, PublishedTracks, SubscribedTracks and RecordingRules."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from pipeline import callbacks
from pipeline.db.models import Participant, PublishedTrack, Room, utcnow
from pipeline.error_codes import (
    INVALID_SUBSCRIBE_RULES,
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
    await sfu.open_room(c.account.sid, created["sid"])
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

    sfu = request.app.state.sfu
    room_sid = await in_session(c, lambda session: find_room(session, c.account.sid, sid).sid)
    if status == "completed" and room_sid in sfu.rooms:
        # A live room: everyone is disconnected (and recordings end) before it completes.
        await sfu.end_room(room_sid)

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
    request.app.state.sfu.rules_changed(body["room_sid"], rules)  # live recordings start/stop now
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


# -- participants -----------------------------------------------------------------------
def find_participant(session: Session, room: Room, sid: str) -> Participant:
    participant = session.get(Participant, sid) if sid.startswith("PA") else None
    if participant is None:
        participant = session.scalars(
            select(Participant)
            .where(Participant.room_sid == room.sid, Participant.identity == sid)
            .order_by(Participant.date_created.desc())
        ).first()
    if participant is None or participant.room_sid != room.sid:
        raise not_found(f"/Rooms/{room.sid}/Participants/{sid}")
    return participant


@router.get(
    "/{room_sid}/Participants", openapi_extra=openapi.query({"Status", "Identity", *DATE_FILTERS, *PAGING})
)
async def list_participants(request: Request, room_sid: str):
    c = await call(request, {"Status", "Identity", *DATE_FILTERS, *PAGING})
    p = c.params

    def work(session):
        room = find_room(session, c.account.sid, room_sid)
        default = "connected" if room.status == "in-progress" else "disconnected"
        status = p.str("Status", default, choices=("connected", "disconnected", "reconnecting"))
        query = select(Participant).where(Participant.room_sid == room.sid, Participant.status == status)
        if (identity := p.str("Identity")) is not None:
            query = query.where(Participant.identity == identity)
        query = created_between(query, Participant.date_created, p)
        query = query.order_by(Participant.date_created, Participant.sid)
        url = f"{c.base}/v1/Rooms/{room.sid}/Participants"
        return page(session, query, p, url, "participants", lambda x: render.participant(x, c.base))

    return await in_session(c, work)


@router.get("/{room_sid}/Participants/{sid}")
async def fetch_participant(request: Request, room_sid: str, sid: str):
    c = await call(request, set())

    def work(session):
        room = find_room(session, c.account.sid, room_sid)
        return render.participant(find_participant(session, room, sid), c.base)

    return await in_session(c, work)


@router.post("/{room_sid}/Participants/{sid}", openapi_extra=openapi.form({"Status"}))
async def update_participant(request: Request, room_sid: str, sid: str):
    c = await call(request, {"Status"})
    c.params.str("Status", required=True, choices=("disconnected",))

    def locate(session):
        room = find_room(session, c.account.sid, room_sid)
        return room.sid, find_participant(session, room, sid).sid

    live_room, participant_sid = await in_session(c, locate)
    await request.app.state.sfu.remove_participant(live_room, participant_sid)

    def work(session):
        room = find_room(session, c.account.sid, live_room)
        participant = find_participant(session, room, participant_sid)
        if participant.status != "disconnected":
            from pipeline.rooms import disconnect_participant

            disconnect_participant(session, room, participant)
        return render.participant(participant, c.base)

    return JSONResponse(await in_session(c, work), status_code=202)


@router.post("/{room_sid}/Participants/{sid}/Anonymize")
async def anonymize_participant(request: Request, room_sid: str, sid: str):
    c = await call(request, set())

    def work(session):
        room = find_room(session, c.account.sid, room_sid)
        participant = find_participant(session, room, sid)
        participant.identity = participant.sid
        return render.participant(participant, c.base)

    return await in_session(c, work)


@router.get("/{room_sid}/Participants/{participant_sid}/PublishedTracks", openapi_extra=openapi.query(PAGING))
async def list_published(request: Request, room_sid: str, participant_sid: str):
    c = await call(request, PAGING)

    def work(session):
        room = find_room(session, c.account.sid, room_sid)
        participant = find_participant(session, room, participant_sid)
        query = (
            select(PublishedTrack)
            .where(PublishedTrack.participant_sid == participant.sid, PublishedTrack.published.is_(True))
            .order_by(PublishedTrack.date_created, PublishedTrack.sid)
        )
        url = f"{c.base}/v1/Rooms/{room.sid}/Participants/{participant.sid}/PublishedTracks"
        return page(
            session, query, c.params, url, "published_tracks", lambda t: render.published_track(t, c.base)
        )

    return await in_session(c, work)


@router.get("/{room_sid}/Participants/{participant_sid}/PublishedTracks/{sid}")
async def fetch_published(request: Request, room_sid: str, participant_sid: str, sid: str):
    c = await call(request, set())

    def work(session):
        room = find_room(session, c.account.sid, room_sid)
        participant = find_participant(session, room, participant_sid)
        track = session.scalars(
            select(PublishedTrack).where(
                PublishedTrack.participant_sid == participant.sid,
                PublishedTrack.published.is_(True),
                (PublishedTrack.sid == sid) | (PublishedTrack.name == sid),
            )
        ).first()
        if track is None:
            raise not_found(f"/PublishedTracks/{sid}")
        return render.published_track(track, c.base)

    return await in_session(c, work)


@router.get(
    "/{room_sid}/Participants/{participant_sid}/SubscribedTracks", openapi_extra=openapi.query(PAGING)
)
async def list_subscribed(request: Request, room_sid: str, participant_sid: str):
    c = await call(request, PAGING)
    live = request.app.state.sfu.subscribed_tracks  # the forwarding core holds subscriptions

    def work(session):
        room = find_room(session, c.account.sid, room_sid)
        participant = find_participant(session, room, participant_sid)
        sids = live(room.sid, participant.sid)
        query = (
            select(PublishedTrack)
            .where(PublishedTrack.sid.in_(sids), PublishedTrack.published.is_(True))
            .order_by(PublishedTrack.date_created, PublishedTrack.sid)
        )
        url = f"{c.base}/v1/Rooms/{room.sid}/Participants/{participant.sid}/SubscribedTracks"
        return page(
            session,
            query,
            c.params,
            url,
            "subscribed_tracks",
            lambda t: render.subscribed_track(t, participant.sid, c.base),
        )

    return await in_session(c, work)


@router.get("/{room_sid}/Participants/{participant_sid}/SubscribedTracks/{sid}")
async def fetch_subscribed(request: Request, room_sid: str, participant_sid: str, sid: str):
    c = await call(request, set())
    live = request.app.state.sfu.subscribed_tracks

    def work(session):
        room = find_room(session, c.account.sid, room_sid)
        participant = find_participant(session, room, participant_sid)
        track = session.get(PublishedTrack, sid) if sid in live(room.sid, participant.sid) else None
        if track is None or not track.published:
            raise not_found(f"/SubscribedTracks/{sid}")
        return render.subscribed_track(track, participant.sid, c.base)

    return await in_session(c, work)


@router.get("/{room_sid}/Participants/{participant_sid}/SubscribeRules")
async def fetch_subscribe_rules(request: Request, room_sid: str, participant_sid: str):
    c = await call(request, set())

    def work(session):
        room = find_room(session, c.account.sid, room_sid)
        return render.subscribe_rules(find_participant(session, room, participant_sid))

    return await in_session(c, work)


@router.post(
    "/{room_sid}/Participants/{participant_sid}/SubscribeRules", openapi_extra=openapi.form({"Rules"})
)
async def update_subscribe_rules(request: Request, room_sid: str, participant_sid: str):
    c = await call(request, {"Rules"})
    rules = rules_param(c, "Rules", subscribe=True)
    if rules is None:
        raise invalid("Rules", "is required", INVALID_SUBSCRIBE_RULES)

    def work(session):
        room = find_room(session, c.account.sid, room_sid)
        participant = find_participant(session, room, participant_sid)
        participant.subscribe_rules = rules
        participant.subscribe_rules_updated = utcnow()
        return render.subscribe_rules(participant)

    body = await in_session(c, work)
    # Subscriptions follow at once for a connected participant.
    request.app.state.sfu.subscribe_rules_changed(body["room_sid"], body["participant_sid"], rules)
    return JSONResponse(body, status_code=202)
