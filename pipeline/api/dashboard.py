"""The dashboard at /dashboard: rooms, recordings, compositions and hooks, behind the API's auth.

The page is static; its script signs in with the account SID and auth token (or an API key),
sent explicitly with each request,
reads one overview from `/dashboard/api/overview` every two seconds and uses the ordinary
`/v1` resources to create compositions and to play or download media. The overview adds what
Twilio's resources leave out: composition progress, when rendering started, and previews.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import av
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

import layouts
from layouts.presets import describe, preset_names
from pipeline.compose.preview import draw_preview
from pipeline.db.models import (
    Composition,
    CompositionHook,
    Participant,
    PublishedTrack,
    Recording,
    Room,
)
from pipeline.jobs.compose import stored_levels
from pipeline.media.speech import room_speech
from pipeline.rooms import manifest_data

from . import render
from .composition_spec import read_spec
from .context import call, in_session
from .errors import invalid, not_found
from .pages import STATIC

router = APIRouter(include_in_schema=False)
LISTED = 50  # newest rows of each resource in the overview
PREVIEW = {"RoomSid", "VideoLayout", "Resolution", "AudioSources", "AudioSourcesExcluded", "Trim", "At"}


@router.get("/dashboard")
@router.get("/dashboard/signin")
async def dashboard_page() -> Response:
    """The page with its sign-in form. No Basic challenge: a browser would keep the credentials
    typed into its prompt and attach them to any form another site posts to roomreel."""
    return Response(
        (STATIC / "dashboard.html").read_bytes(),
        media_type="text/html",
        headers={"Cache-Control": "no-store"},
    )


@router.get("/dashboard/api/overview")
async def overview(request: Request) -> JSONResponse:
    c = await call(request)

    def newest(session, model) -> list[Any]:
        return session.scalars(
            select(model)
            .where(model.account_sid == c.account.sid)
            .order_by(model.date_created.desc())
            .limit(LISTED)
        ).all()

    def work(session) -> dict[str, Any]:
        rooms = newest(session, Room)
        room_sids = [r.sid for r in rooms]
        people = session.scalars(select(Participant).where(Participant.room_sid.in_(room_sids))).all()
        tracks = session.scalars(select(PublishedTrack).where(PublishedTrack.room_sid.in_(room_sids))).all()
        return {
            "account_sid": c.account.sid,
            "rooms": [
                {
                    **render.room(r, c.base),
                    "participants": [
                        {
                            **render.participant(p, c.base),
                            "tracks": [
                                render.published_track(t, c.base)
                                for t in tracks
                                if t.participant_sid == p.sid
                            ],
                        }
                        for p in people
                        if p.room_sid == r.sid
                    ],
                }
                for r in rooms
            ],
            "recordings": [render.recording(r, c.base) for r in newest(session, Recording)],
            "compositions": [
                {
                    **render.composition(x, c.base),
                    "progress": x.progress,
                    "date_updated": render.iso(x.date_updated),
                    "error_message": x.error_message,
                    "thumbnail": f"/dashboard/api/compositions/{x.sid}/thumbnail"
                    if x.status == "completed" and not x.media_external_location
                    else None,
                }
                for x in newest(session, Composition)
            ],
            "hooks": [render.hook(h, c.base) for h in newest(session, CompositionHook)],
            "presets": [{"name": name, "description": describe(name)} for name in preset_names()],
        }

    return JSONResponse(await in_session(c, work))


@router.post("/dashboard/api/preview")
async def layout_preview(request: Request) -> Response:
    """The layout drawn over a room's recordings at one instant (PNG), before composing it."""
    c = await call(request, PREVIEW)
    room_sid = c.params.str("RoomSid", required=True, max_len=34)
    spec = read_spec(c.params)
    at = c.params.str("At")

    def work(session) -> bytes:
        room = session.get(Room, room_sid)
        if room is None or room.account_sid != c.account.sid:
            raise not_found(f"/Rooms/{room_sid}")
        data, keys = manifest_data(session, room)
        speech = None
        if any(region.get("active_speaker") for region in (spec["video_layout"] or {}).values()):
            # Levels already stored only (the recorder's, or an earlier composition's): measuring
            # a room's audio is a composition's work, not a preview's.
            speech = room_speech(
                data["recordings"], stored_levels(c.services.storage, data, keys, compute=False)
            )
        try:
            plan = layouts.plan_for_manifest(
                data,
                spec["video_layout"] or None,
                spec["resolution"],
                spec["audio_sources"],
                spec["audio_sources_excluded"],
                spec["trim"],
                speech=speech,
            )
        except layouts.LayoutError as exc:
            raise invalid(exc.field, exc.reason) from None
        names = {
            r["sid"]: f"{r.get('participant_identity') or ''} {r.get('track_name', '')}".strip()
            for r in data["recordings"]
        }
        instant = float(at) if at else plan.duration / 2
        with tempfile.TemporaryDirectory() as tmp:
            return draw_preview(plan, instant, Path(tmp) / "preview.png", names).read_bytes()

    try:
        image = await in_session(c, work)
    except ValueError:
        raise invalid("At", "must be a number of seconds") from None
    return Response(image, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get("/dashboard/api/compositions/{sid}/thumbnail")
async def thumbnail(request: Request, sid: str) -> FileResponse:
    """One frame from the middle of a completed composition (JPEG, 320 px wide), made once."""
    c = await call(request)

    def find(session) -> tuple[str, float]:
        row = session.get(Composition, sid)
        mine = row is not None and row.account_sid == c.account.sid
        # A file in the customer's own bucket is not ours to read.
        if not mine or row.status != "completed" or not row.media_key or row.media_external_location:
            raise not_found(f"/Compositions/{sid}/thumbnail")
        return row.media_key, row.duration

    key, duration = await in_session(c, find)
    cache = c.services.settings.data_dir / "spool" / "thumbnails" / f"{sid}.jpg"
    if not cache.exists():
        await run_in_threadpool(_make_thumbnail, c.services.storage, key, duration, cache)
    return FileResponse(cache, media_type="image/jpeg")


def _make_thumbnail(storage, key: str, duration: float, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        media = storage.get_file(key, Path(tmp) / Path(key).name)
        image = None
        with av.open(str(media)) as container:
            if not container.streams.video:
                raise not_found("thumbnail (audio-only composition)")
            stream = container.streams.video[0]
            middle = duration / 2
            container.seek(int(middle / stream.time_base), stream=stream)  # lands on a keyframe before
            for frame in container.decode(stream):
                image = frame.to_image()
                if frame.time is None or frame.time >= middle:
                    break
        if image is None:
            raise not_found("thumbnail (no frame decoded)")
        image.thumbnail((320, 320))
        partial = target.with_suffix(".part")
        image.save(partial, "JPEG", quality=80)
        partial.replace(target)


@router.get("/dashboard/api/media/{sid}")
async def media_url(request: Request, sid: str) -> JSONResponse:
    """The presigned URL of a recording or composition, as JSON: a page's fetch would follow
    the `/v1/.../Media` redirect and download the whole file."""
    from .compositions import composition_media
    from .recordings import recording_media

    if sid.startswith("CJ"):
        redirect = await composition_media(request, sid)
    elif sid.startswith("RT"):
        redirect = await recording_media(request, sid)
    else:
        raise not_found(f"/dashboard/api/media/{sid}")
    return JSONResponse({"url": redirect.headers["location"]})
