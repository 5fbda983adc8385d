"""Recordings (account-wide and room-scoped) and their Media."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from pipeline.db.models import Recording
from pipeline.storage.base import MAX_LINK_TTL

from . import openapi, render
from .context import Call, call, in_session
from .errors import invalid, not_found
from .media import media_redirect
from .paging import page
from .params import DATE_FILTERS, PAGING, created_between
from .rooms import find_room

router = APIRouter(prefix="/v1")
STATUSES = ("processing", "completed", "deleted", "failed")


def find_recording(session, c: Call, sid: str, room_sid: str | None = None) -> Recording:
    recording = session.get(Recording, sid)
    if (
        recording is None
        or recording.account_sid != c.account.sid
        or (room_sid and recording.room_sid != room_sid)
    ):
        raise not_found(f"/Recordings/{sid}")
    return recording


def _filtered(c: Call, query):
    p = c.params
    if (status := p.str("Status", choices=STATUSES)) is not None:
        query = query.where(Recording.status == status)
    if (source := p.str("SourceSid")) is not None:
        query = query.where(Recording.source_sid == source)
    query = created_between(query, Recording.date_created, p)
    return query.order_by(Recording.date_created.desc(), Recording.sid)


@router.get(
    "/Recordings",
    openapi_extra=openapi.query({"Status", "SourceSid", "GroupingSid", "MediaType", *DATE_FILTERS, *PAGING}),
)
async def list_recordings(request: Request):
    c = await call(request, {"Status", "SourceSid", "GroupingSid", "MediaType", *DATE_FILTERS, *PAGING})
    query = _filtered(c, select(Recording).where(Recording.account_sid == c.account.sid))
    for grouping in c.params.list("GroupingSid") or []:
        if grouping.startswith("RM"):
            query = query.where(Recording.room_sid == grouping)
        elif grouping.startswith("PA"):
            query = query.where(Recording.participant_sid == grouping)
        else:
            raise invalid("GroupingSid", "items must be room (RM) or participant (PA) SIDs")
    if (media_type := c.params.str("MediaType", choices=("audio", "video", "data"))) is not None:
        query = query.where(Recording.type == media_type)

    def work(session):
        return page(
            session,
            query,
            c.params,
            f"{c.base}/v1/Recordings",
            "recordings",
            lambda r: render.recording(r, c.base),
            max_page_size=100,
        )

    return await in_session(c, work)


@router.get(
    "/Rooms/{room_sid}/Recordings",
    openapi_extra=openapi.query({"Status", "SourceSid", *DATE_FILTERS, *PAGING}),
)
async def list_room_recordings(request: Request, room_sid: str):
    c = await call(request, {"Status", "SourceSid", *DATE_FILTERS, *PAGING})

    def work(session):
        room = find_room(session, c.account.sid, room_sid)
        query = _filtered(c, select(Recording).where(Recording.room_sid == room.sid))
        return page(
            session,
            query,
            c.params,
            f"{c.base}/v1/Rooms/{room.sid}/Recordings",
            "recordings",
            lambda r: render.recording(r, c.base, room_scoped=True),
            max_page_size=100,
        )

    return await in_session(c, work)


@router.get("/Recordings/{sid}")
async def fetch_recording(request: Request, sid: str):
    c = await call(request, set())

    return await in_session(c, lambda session: render.recording(find_recording(session, c, sid), c.base))


@router.get("/Rooms/{room_sid}/Recordings/{sid}")
async def fetch_room_recording(request: Request, room_sid: str, sid: str):
    c = await call(request, set())

    def work(session):
        room = find_room(session, c.account.sid, room_sid)
        return render.recording(find_recording(session, c, sid, room.sid), c.base, room_scoped=True)

    return await in_session(c, work)


def _delete(c: Call, sid: str, room_sid: str | None = None) -> None:
    with c.db.session() as session:
        recording = find_recording(session, c, sid, room_sid)
        if recording.media_key:
            c.services.storage.delete(recording.media_key)
        recording.status = "deleted"


@router.delete("/Recordings/{sid}", status_code=204)
async def delete_recording(request: Request, sid: str):
    c = await call(request, set())
    await run_in_threadpool(_delete, c, sid)
    return Response(status_code=204)


@router.delete("/Rooms/{room_sid}/Recordings/{sid}", status_code=204)
async def delete_room_recording(request: Request, room_sid: str, sid: str):
    c = await call(request, set())

    room = await in_session(c, lambda session: find_room(session, c.account.sid, room_sid))
    await run_in_threadpool(_delete, c, sid, room.sid)
    return Response(status_code=204)


async def _media(request: Request, sid: str, room_sid: str | None) -> JSONResponse:
    c = await call(request, {"Ttl"})
    ttl = c.params.int("Ttl", 600, 1, MAX_LINK_TTL)

    def work(session):
        room = find_room(session, c.account.sid, room_sid).sid if room_sid is not None else None
        recording = find_recording(session, c, sid, room)
        return recording.status, recording.media_key, f"{recording.sid}.{recording.container_format}"

    status, key, filename = await in_session(c, work)
    return media_redirect(c, status, key, ttl, filename)


@router.get("/Recordings/{sid}/Media", openapi_extra=openapi.query({"Ttl"}))
async def recording_media(request: Request, sid: str):
    return await _media(request, sid, None)


@router.get("/Rooms/{room_sid}/Recordings/{sid}/Media", openapi_extra=openapi.query({"Ttl"}))
async def room_recording_media(request: Request, room_sid: str, sid: str):
    return await _media(request, sid, room_sid)
