"""Compositions: create (validated through layouts/), list, fetch, delete and Media."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from pipeline.db.models import Composition, Recording, Room, utcnow
from pipeline.priority import JobPriority
from pipeline.rooms import composition_event
from pipeline.sids import is_sid, new_sid
from pipeline.storage.base import MAX_LINK_TTL
from pipeline.storage.external import CustomerStorageRefused, customer_key

from . import openapi, render
from .composition_spec import read_spec, require_media
from .context import Call, call, in_session
from .errors import invalid, not_found
from .media import media_redirect
from .paging import page
from .params import DATE_FILTERS, PAGING, created_between

router = APIRouter(prefix="/v1/Compositions")
CREATE = {
    "RoomSid",
    "VideoLayout",
    "AudioSources",
    "AudioSourcesExcluded",
    "Resolution",
    "Format",
    "StatusCallback",
    "StatusCallbackMethod",
    "Trim",
}
STATUSES = ("enqueued", "processing", "completed", "deleted", "failed")


def find_composition(session, c: Call, sid: str) -> Composition:
    composition = session.get(Composition, sid)
    if composition is None or composition.account_sid != c.account.sid:
        raise not_found(f"/Compositions/{sid}")
    return composition


def _has_recordings(session, room_sid: str) -> bool:
    return (
        session.scalar(
            select(Recording.sid)
            .where(Recording.room_sid == room_sid, Recording.status.notin_(("deleted", "failed")))
            .limit(1)
        )
        is not None
    )


@router.post("", openapi_extra=openapi.form(CREATE))
async def create_composition(request: Request):
    c = await call(request, CREATE)
    room_sid = c.params.str("RoomSid", required=True, max_len=34)
    if not is_sid(room_sid, "RM"):
        raise invalid("RoomSid", "must be a room SID (RM followed by 32 hex digits)")
    spec = read_spec(c.params)
    require_media(spec)

    def work(session):
        room = session.get(Room, room_sid)
        if room is None or room.account_sid != c.account.sid:
            raise not_found(f"/Rooms/{room_sid}")
        if room.status != "in-progress" and not _has_recordings(session, room.sid):
            raise invalid(
                "RoomSid",
                f"names room {room.sid}, which has no recordings: it was not recorded "
                "(create rooms with RecordParticipantsOnConnect=true or RecordingRules to record them)",
            )
        composition = Composition(
            sid=new_sid("CJ"), account_sid=c.account.sid, room_sid=room.sid, priority=JobPriority.API, **spec
        )
        session.add(composition)
        composition_event(session, composition, "composition-enqueued")
        session.flush()
        return render.composition(composition, c.base)

    body = await in_session(c, work)
    await run_in_threadpool(request.app.state.dispatcher.composition, body["sid"], JobPriority.API)
    return JSONResponse(body, status_code=201)


@router.get("", openapi_extra=openapi.query({"Status", "RoomSid", *DATE_FILTERS, *PAGING}))
async def list_compositions(request: Request):
    c = await call(request, {"Status", "RoomSid", *DATE_FILTERS, *PAGING})
    p = c.params
    query = select(Composition).where(Composition.account_sid == c.account.sid)
    if (status := p.str("Status", choices=STATUSES)) is not None:
        query = query.where(Composition.status == status)
    if (room_sid := p.str("RoomSid")) is not None:
        query = query.where(Composition.room_sid == room_sid)
    query = created_between(query, Composition.date_created, p)
    query = query.order_by(Composition.date_created.desc(), Composition.sid)

    def work(session):
        return page(
            session,
            query,
            p,
            f"{c.base}/v1/Compositions",
            "compositions",
            lambda x: render.composition(x, c.base),
            max_page_size=100,
        )

    return await in_session(c, work)


@router.get("/{sid}")
async def fetch_composition(request: Request, sid: str):
    c = await call(request, set())

    return await in_session(c, lambda session: render.composition(find_composition(session, c, sid), c.base))


@router.delete("/{sid}", status_code=204)
async def delete_composition(request: Request, sid: str):
    c = await call(request, set())

    def work(session):
        composition = find_composition(session, c, sid)
        # Media in the customer's own bucket stays theirs to delete.
        if composition.media_key and not composition.media_external_location:
            c.services.storage.delete(composition.media_key)
        composition.status = "deleted"
        composition.date_deleted = utcnow()

    await in_session(c, work)
    return Response(status_code=204)


@router.get("/{sid}/Media", openapi_extra=openapi.query({"Ttl"}))
async def composition_media(request: Request, sid: str):
    c = await call(request, {"Ttl"})
    ttl = c.params.int("Ttl", 600, 1, MAX_LINK_TTL)

    def work(session):
        composition = find_composition(session, c, sid)
        external = composition.media_external_location
        try:
            external_key = customer_key(session, c.account.sid, "composition") if external else None
        except CustomerStorageRefused:
            external_key = None
        return (
            composition.status,
            composition.media_key,
            f"{composition.sid}.{composition.format}",
            external,
            external_key,
        )

    status, key, filename, external, external_key = await in_session(c, work)
    return await run_in_threadpool(media_redirect, c, status, key, ttl, filename, external, external_key)
