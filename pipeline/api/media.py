"""`/Media`: a redirect to a presigned URL, and the signed download route of local storage."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from pipeline.error_codes import FORBIDDEN, MEDIA_UNAVAILABLE, NOT_FOUND
from pipeline.storage import LocalStorage, StorageError
from pipeline.storage.external import KeyPair, object_at

from .context import Call
from .errors import ApiError, respond

router = APIRouter()


def media_redirect(
    c: Call,
    status: str,
    key: str | None,
    ttl: int,
    filename: str,
    external: str | None = None,
    external_key: KeyPair | None = None,
) -> JSONResponse:
    """`external_key` is the customer's own AWS key, which alone signs links into their bucket."""
    if status != "completed" or not key:
        raise ApiError(404, MEDIA_UNAVAILABLE, f"Media is not available: the resource is {status}")
    storage = c.services.storage
    if external and storage.location(key) != external:
        # Stored in the customer's bucket (CompositionSettings/RecordingSettings).
        if external_key is None:
            raise ApiError(
                404,
                MEDIA_UNAVAILABLE,
                f"Media is in your bucket at {external}; CompositionSettings name no AWS credential to sign a link with",
            )
        try:
            storage, key = object_at(external, external_key)
        except StorageError as exc:
            raise ApiError(404, MEDIA_UNAVAILABLE, f"Media is not available: {exc}") from None
    url = storage.presigned_url(key, ttl, filename)
    return JSONResponse({"redirect_to": url}, status_code=302, headers={"Location": url})


@router.get("/media/{key:path}")
async def download(request: Request, key: str, Expires: int = 0, Signature: str = ""):  # noqa: N803
    storage = request.app.state.services.storage
    if not isinstance(storage, LocalStorage):
        return respond(404, NOT_FOUND, "Not found")
    try:
        valid = storage.verify(key, Expires, Signature)
        path = storage.path(key)
        present = valid and path.is_file()
    except (StorageError, OSError, ValueError, OverflowError, TypeError):
        valid = present = False
    if not valid:
        return respond(403, FORBIDDEN, "The download link is invalid or has expired")
    if not present:
        return respond(404, NOT_FOUND, "The media is gone")
    return FileResponse(path, filename=path.name)
