"""Twilio's Credentials/AWS (`/v1/Credentials/AWS`, the accounts API): the AWS keys roomreel
writes a customer's bucket with (RecordingSettings/CompositionSettings `AwsCredentialsSid`).
Create, list, fetch, rename and delete; the secret is never read back."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from pipeline.callbacks import iso
from pipeline.db.models import AwsCredential
from pipeline.sids import new_sid

from . import openapi
from .context import call, in_session
from .errors import invalid, not_found
from .paging import page
from .params import PAGING

router = APIRouter(prefix="/v1/Credentials/AWS")
CREATE = {"Credentials", "FriendlyName", "AccountSid"}


def render(credential: AwsCredential, base: str) -> dict[str, Any]:
    return {
        "sid": credential.sid,
        "account_sid": credential.account_sid,
        "friendly_name": credential.friendly_name,
        "date_created": iso(credential.date_created),
        "date_updated": iso(credential.date_updated),
        "url": f"{base}/v1/Credentials/AWS/{credential.sid}",
    }


def key_pair(text: str) -> tuple[str, str]:
    """Twilio's `Credentials` value: `ACCESS_KEY_ID:SECRET_ACCESS_KEY`."""
    access, _, secret = text.partition(":")
    access, secret = access.strip(), secret.strip()
    if not access or not secret or len(access) > 128 or len(secret) > 256:
        raise invalid("Credentials", "must be AWS_ACCESS_KEY_ID:AWS_SECRET_ACCESS_KEY")
    return access, secret


def find_credential(session, account_sid: str, sid: str) -> AwsCredential:
    credential = session.get(AwsCredential, sid)
    if credential is None or credential.account_sid != account_sid:
        raise not_found(f"/v1/Credentials/AWS/{sid}")
    return credential


@router.post("", openapi_extra=openapi.form(CREATE))
async def create_credential(request: Request) -> JSONResponse:
    c = await call(request, CREATE)
    p = c.params
    access, secret = key_pair(p.str("Credentials", required=True, max_len=400))
    name = p.str("FriendlyName", "", max_len=64) or ""
    owner = p.str("AccountSid", max_len=34)
    if owner and owner != c.account.sid:
        # Twilio's AccountSid names a subaccount; roomreel has none.
        raise invalid("AccountSid", "must be the authenticated account's SID")

    def work(session):
        credential = AwsCredential(
            sid=new_sid("CR"),
            account_sid=c.account.sid,
            friendly_name=name,
            access_key_id=access,
            secret_access_key=secret,
        )
        session.add(credential)
        session.flush()
        return render(credential, c.base)

    return JSONResponse(await in_session(c, work), status_code=201)


@router.get("")
async def list_credentials(request: Request):
    c = await call(request, PAGING)
    query = (
        select(AwsCredential)
        .where(AwsCredential.account_sid == c.account.sid)
        .order_by(AwsCredential.date_created, AwsCredential.sid)
    )
    url = f"{c.base}/v1/Credentials/AWS"
    return await in_session(
        c, lambda session: page(session, query, c.params, url, "credentials", lambda r: render(r, c.base))
    )


@router.get("/{sid}")
async def fetch_credential(request: Request, sid: str):
    c = await call(request, set())
    return await in_session(c, lambda session: render(find_credential(session, c.account.sid, sid), c.base))


@router.post("/{sid}", openapi_extra=openapi.form({"FriendlyName"}))
async def update_credential(request: Request, sid: str):
    c = await call(request, {"FriendlyName"})
    name = c.params.str("FriendlyName", max_len=64)

    def work(session):
        credential = find_credential(session, c.account.sid, sid)
        if name is not None:
            credential.friendly_name = name
        session.flush()
        return render(credential, c.base)

    return await in_session(c, work)


@router.delete("/{sid}", status_code=204)
async def delete_credential(request: Request, sid: str) -> Response:
    c = await call(request, set())
    await in_session(c, lambda session: session.delete(find_credential(session, c.account.sid, sid)))
    return Response(status_code=204)
