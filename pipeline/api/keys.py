"""Twilio's Keys resource (`/2010-04-01/Accounts/{AccountSid}/Keys`): list, create, fetch,
rename and revoke the API keys that sign access tokens and authenticate REST calls. A revoked
key stops both at once. Only the account's own credentials manage keys, as on Twilio."""

from __future__ import annotations

from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from pipeline.accounts import create_api_key
from pipeline.db.models import ApiKey
from pipeline.error_codes import AUTH_FAILED

from . import openapi
from .context import basic_credentials, call, in_session
from .errors import ApiError, not_found

router = APIRouter(prefix="/2010-04-01/Accounts/{account_sid}")


def _key(key: ApiKey, secret: bool = False) -> dict[str, Any]:
    body = {
        "sid": key.sid,
        "friendly_name": key.friendly_name,
        "date_created": format_datetime(key.date_created, usegmt=False),
        "date_updated": format_datetime(key.date_updated or key.date_created, usegmt=False),
    }
    if secret:
        body["secret"] = key.secret
    return body


async def _owner(request: Request, account_sid: str, allowed: set[str] | None = None):
    c = await call(request, allowed)
    if c.account.sid != account_sid:
        raise not_found(f"/Accounts/{account_sid}")
    if basic_credentials(request)[0].startswith("SK"):
        raise ApiError(
            401, AUTH_FAILED, "Authentication Error - keys are managed with the account's own credentials"
        )
    return c


@router.get("/Keys.json")
async def list_keys(request: Request, account_sid: str) -> JSONResponse:
    c = await _owner(request, account_sid, {"PageSize", "Page", "PageToken"})

    def work(session):
        keys = session.scalars(
            select(ApiKey).where(ApiKey.account_sid == account_sid).order_by(ApiKey.date_created)
        ).all()
        uri = f"/2010-04-01/Accounts/{account_sid}/Keys.json"
        return {
            "keys": [_key(k) for k in keys],
            "uri": uri,
            "first_page_uri": f"{uri}?PageSize={max(1, len(keys))}&Page=0",
            "next_page_uri": None,
            "previous_page_uri": None,
            "page": 0,
            "page_size": max(1, len(keys)),
            "start": 0,
            "end": max(0, len(keys) - 1),
        }

    return JSONResponse(await in_session(c, work))


@router.post("/Keys.json", openapi_extra=openapi.form({"FriendlyName"}))
async def create_key(request: Request, account_sid: str) -> JSONResponse:
    c = await _owner(request, account_sid, {"FriendlyName"})
    name = c.params.str("FriendlyName", "", max_len=64) or ""
    key = create_api_key(c.db, account_sid, name)
    return JSONResponse(_key(key, secret=True), status_code=201)


def _find(session, account_sid: str, sid: str) -> ApiKey:
    key = session.get(ApiKey, sid)
    if key is None or key.account_sid != account_sid:
        raise not_found(f"/Accounts/{account_sid}/Keys/{sid}")
    return key


@router.get("/Keys/{sid}.json")
async def fetch_key(request: Request, account_sid: str, sid: str) -> JSONResponse:
    c = await _owner(request, account_sid)
    return JSONResponse(await in_session(c, lambda session: _key(_find(session, account_sid, sid))))


@router.post("/Keys/{sid}.json", openapi_extra=openapi.form({"FriendlyName"}))
async def update_key(request: Request, account_sid: str, sid: str) -> JSONResponse:
    c = await _owner(request, account_sid, {"FriendlyName"})
    name = c.params.str("FriendlyName", max_len=64)

    def work(session):
        key = _find(session, account_sid, sid)
        if name is not None:
            key.friendly_name = name
        session.flush()
        return _key(key)

    return JSONResponse(await in_session(c, work))


@router.delete("/Keys/{sid}.json")
async def revoke_key(request: Request, account_sid: str, sid: str) -> Response:
    c = await _owner(request, account_sid)
    await in_session(c, lambda session: session.delete(_find(session, account_sid, sid)))
    return Response(status_code=204)
