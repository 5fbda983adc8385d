"""CompositionHooks: account-wide composition templates run when a room completes."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from pipeline.db.models import CompositionHook
from pipeline.error_codes import HOOK_NAME_EXISTS
from pipeline.sids import new_sid

from . import openapi, render
from .composition_spec import read_spec, require_media
from .context import Call, call, in_session
from .errors import ApiError, not_found
from .paging import page
from .params import DATE_FILTERS, PAGING, created_between

router = APIRouter(prefix="/v1/CompositionHooks")
FIELDS = {
    "FriendlyName",
    "Enabled",
    "VideoLayout",
    "AudioSources",
    "AudioSourcesExcluded",
    "Resolution",
    "Format",
    "StatusCallback",
    "StatusCallbackMethod",
    "Trim",
}


def find_hook(session, c: Call, sid: str) -> CompositionHook:
    hook = session.get(CompositionHook, sid)
    if hook is None or hook.account_sid != c.account.sid:
        raise not_found(f"/CompositionHooks/{sid}")
    return hook


def _unique(session, c: Call, name: str, sid: str | None = None) -> None:
    clash = session.scalars(
        select(CompositionHook).where(
            CompositionHook.account_sid == c.account.sid, CompositionHook.friendly_name == name
        )
    ).first()
    if clash and clash.sid != sid:
        raise ApiError(400, HOOK_NAME_EXISTS, f"FriendlyName {name!r} is already used by hook {clash.sid}")


def _read(c: Call) -> dict:
    name = c.params.str("FriendlyName", required=True, max_len=100)
    spec = read_spec(c.params)
    require_media(spec)
    return {"friendly_name": name, "enabled": c.params.bool("Enabled", True), **spec}


@router.post("", openapi_extra=openapi.form(FIELDS))
async def create_hook(request: Request):
    c = await call(request, FIELDS)
    fields = _read(c)

    def work(session):
        _unique(session, c, fields["friendly_name"])
        hook = CompositionHook(sid=new_sid("HK"), account_sid=c.account.sid, **fields)
        session.add(hook)
        session.flush()
        return render.hook(hook, c.base)

    return JSONResponse(await in_session(c, work), status_code=201)


# Each field of a hook and the parameter that changes it on update.
UPDATED_BY = {
    "video_layout": "VideoLayout",
    "audio_sources": "AudioSources",
    "audio_sources_excluded": "AudioSourcesExcluded",
    "resolution": "Resolution",
    "format": "Format",
    "trim": "Trim",
    "status_callback": "StatusCallback",
    "status_callback_method": "StatusCallbackMethod",
}


@router.post("/{sid}", openapi_extra=openapi.form(FIELDS))
async def update_hook(request: Request, sid: str):
    """As on Twilio, only FriendlyName is required, and the update keeps every field it does not
    name: `FriendlyName` with `Enabled=false` switches a hook off and changes nothing else."""
    c = await call(request, FIELDS)
    p = c.params
    name = p.str("FriendlyName", required=True, max_len=100)
    enabled = p.bool("Enabled")

    def work(session):
        hook = find_hook(session, c, sid)
        spec = read_spec(p, {"resolution": hook.resolution, "format": hook.format, "trim": hook.trim})
        named = {field: value for field, value in spec.items() if UPDATED_BY[field] in p}
        merged = {field: getattr(hook, field) for field in UPDATED_BY} | named
        require_media(merged)
        _unique(session, c, name, hook.sid)
        hook.friendly_name = name
        if enabled is not None:
            hook.enabled = enabled
        for field, value in named.items():
            setattr(hook, field, value)
        session.flush()
        return render.hook(hook, c.base)

    return await in_session(c, work)


@router.get("", openapi_extra=openapi.query({"Enabled", "FriendlyName", *DATE_FILTERS, *PAGING}))
async def list_hooks(request: Request):
    c = await call(request, {"Enabled", "FriendlyName", *DATE_FILTERS, *PAGING})
    p = c.params
    query = select(CompositionHook).where(CompositionHook.account_sid == c.account.sid)
    if (enabled := p.bool("Enabled")) is not None:
        query = query.where(CompositionHook.enabled.is_(enabled))
    if (name := p.str("FriendlyName", max_len=100)) is not None:
        pattern = re.sub(r"([%_\\])", r"\\\1", name.lower()).replace("*", "%")
        query = query.where(func.lower(CompositionHook.friendly_name).like(pattern, escape="\\"))
    query = created_between(query, CompositionHook.date_created, p)
    query = query.order_by(CompositionHook.date_created.desc(), CompositionHook.sid)

    def work(session):
        return page(
            session,
            query,
            p,
            f"{c.base}/v1/CompositionHooks",
            "composition_hooks",
            lambda h: render.hook(h, c.base),
        )

    return await in_session(c, work)


@router.get("/{sid}")
async def fetch_hook(request: Request, sid: str):
    c = await call(request, set())

    return await in_session(c, lambda session: render.hook(find_hook(session, c, sid), c.base))


@router.delete("/{sid}", status_code=204)
async def delete_hook(request: Request, sid: str):
    c = await call(request, set())

    def work(session):
        session.delete(find_hook(session, c, sid))

    await in_session(c, work)
    return Response(status_code=204)
