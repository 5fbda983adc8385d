"""A room's Participants, their PublishedTracks, SubscribedTracks and SubscribeRules."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.db.models import Participant, PublishedTrack, Room, utcnow
from pipeline.error_codes import INVALID_SUBSCRIBE_RULES
from pipeline.rooms import disconnect_participant

from . import openapi, render
from .context import call, in_session
from .errors import invalid, not_found
from .paging import page
from .params import DATE_FILTERS, PAGING, created_between
from .rooms import find_room, rules_param

router = APIRouter(prefix="/v1/Rooms")


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
    await request.app.state.live_rooms.remove_participant(live_room, participant_sid)

    def work(session):
        room = find_room(session, c.account.sid, live_room)
        participant = find_participant(session, room, participant_sid)
        if participant.status != "disconnected":
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


async def live_subscriptions(request: Request, c, room_sid: str, participant_sid: str) -> set[str]:
    """SIDs of the tracks the participant receives now; the forwarding core that runs its room
    holds them (404 first for a room or participant that does not exist)."""

    def locate(session):
        room = find_room(session, c.account.sid, room_sid)
        return room.sid, find_participant(session, room, participant_sid).sid

    room, participant = await in_session(c, locate)
    return await request.app.state.live_rooms.subscribed_tracks(room, participant)


@router.get(
    "/{room_sid}/Participants/{participant_sid}/SubscribedTracks", openapi_extra=openapi.query(PAGING)
)
async def list_subscribed(request: Request, room_sid: str, participant_sid: str):
    c = await call(request, PAGING)
    sids = await live_subscriptions(request, c, room_sid, participant_sid)

    def work(session):
        room = find_room(session, c.account.sid, room_sid)
        participant = find_participant(session, room, participant_sid)
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
    subscribed = await live_subscriptions(request, c, room_sid, participant_sid)

    def work(session):
        room = find_room(session, c.account.sid, room_sid)
        participant = find_participant(session, room, participant_sid)
        track = session.get(PublishedTrack, sid) if sid in subscribed else None
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
    await request.app.state.live_rooms.subscribe_rules_changed(
        body["room_sid"], body["participant_sid"], rules
    )
    return JSONResponse(body, status_code=202)
