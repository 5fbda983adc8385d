"""RecordingSettings/Default and CompositionSettings/Default: external S3 storage."""

from __future__ import annotations

from fastapi import APIRouter, Request

from pipeline.db.models import AwsCredential, StorageSettings
from pipeline.storage import StorageError
from pipeline.storage.external import split_s3_url

from . import openapi, render
from .context import call, in_session
from .errors import invalid

router = APIRouter(prefix="/v1")
FIELDS = {
    "FriendlyName",
    "AwsCredentialsSid",
    "EncryptionKeySid",
    "AwsS3Url",
    "AwsStorageEnabled",
    "EncryptionEnabled",
}
KINDS = {"RecordingSettings": "recording", "CompositionSettings": "composition"}


def _row(session, account_sid: str, kind: str) -> StorageSettings:
    row = session.get(StorageSettings, (account_sid, kind))
    if row is None:
        row = StorageSettings(account_sid=account_sid, kind=kind)
        session.add(row)
        session.flush()
    return row


def _handlers(kind: str):
    async def fetch(request: Request):
        c = await call(request, set())

        def work(session):
            return render.storage_settings(_row(session, c.account.sid, kind), c.base)

        return await in_session(c, work)

    async def update(request: Request):
        c = await call(request, FIELDS)
        p = c.params
        name = p.str("FriendlyName", required=True)
        url = p.str("AwsS3Url", max_len=2048)
        if url is not None:
            try:
                split_s3_url(url)  # what uploads will parse, so a URL taken here works there
            except StorageError:
                raise invalid(
                    "AwsS3Url", "must be a URL like https://bucket.s3.amazonaws.com/path or s3://bucket/path"
                ) from None
        for sid_field in ("AwsCredentialsSid", "EncryptionKeySid"):
            value = p.str(sid_field, max_len=34)
            if value and not value.startswith("CR"):
                raise invalid(sid_field, "must be a credential SID (CR...)")

        def work(session):
            credential_sid = p.str("AwsCredentialsSid")
            if credential_sid:
                credential = session.get(AwsCredential, credential_sid)
                if credential is None or credential.account_sid != c.account.sid:
                    raise invalid(
                        "AwsCredentialsSid", f"{credential_sid} is not a credential of this account"
                    )
            row = _row(session, c.account.sid, kind)
            row.friendly_name = name
            row.aws_credentials_sid = p.str("AwsCredentialsSid", row.aws_credentials_sid)
            row.encryption_key_sid = p.str("EncryptionKeySid", row.encryption_key_sid)
            row.aws_s3_url = url if url is not None else row.aws_s3_url
            row.aws_storage_enabled = p.bool("AwsStorageEnabled", row.aws_storage_enabled)
            row.encryption_enabled = p.bool("EncryptionEnabled", row.encryption_enabled)
            if row.aws_storage_enabled and not row.aws_s3_url:
                raise invalid("AwsS3Url", "is required when AwsStorageEnabled is true")
            return render.storage_settings(row, c.base)

        return await in_session(c, work)

    return fetch, update


for path, kind in KINDS.items():
    fetch_handler, update_handler = _handlers(kind)
    router.add_api_route(f"/{path}/Default", fetch_handler, methods=["GET"])
    router.add_api_route(
        f"/{path}/Default", update_handler, methods=["POST"], openapi_extra=openapi.form(FIELDS)
    )
