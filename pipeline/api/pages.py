"""Browser pages: the room client at /rooms/{name} (docs/signaling.md describes its protocol).

The page is static HTML and JavaScript: it reads the room name from its own path, the identity
from `?identity=` (random otherwise) and a token from `?token=` or, when the server runs with
ROOMREEL_DEV_TOKENS=1, from `/dev/token`.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from pipeline.error_codes import NOT_FOUND

from .browser_policy import SDK_PAGE_POLICY
from .errors import ApiError, not_found

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"
ASSETS = {
    "room.js": "text/javascript",
    "room.css": "text/css",
    "dashboard.js": "text/javascript",
    "dashboard.css": "text/css",
    "quickstart.js": "text/javascript",
}


@router.get("/")
async def home() -> RedirectResponse:
    """The way in for a person who opens the server's address: the dashboard's sign-in."""
    return RedirectResponse("/dashboard", status_code=307)


@router.get("/rooms/{name}")
async def room_page(name: str) -> FileResponse:
    return FileResponse(STATIC / "room.html", media_type="text/html", headers={"Cache-Control": "no-cache"})


@router.get("/quickstart")
async def quickstart_page() -> FileResponse:
    """Twilio's quickstart app on the real twilio-video.js, pointed at this server."""
    headers = {"Cache-Control": "no-cache", "Content-Security-Policy": SDK_PAGE_POLICY}
    return FileResponse(STATIC / "quickstart.html", media_type="text/html", headers=headers)


@router.get("/quickstart/twilio-video.min.js")
async def quickstart_sdk() -> FileResponse:
    """The SDK the quickstart loads: the operator's copy of the npm package's
    dist/twilio-video.min.js (BSD-3-Clause), named by ROOMREEL_TWILIO_VIDEO_JS."""
    path = os.environ.get("ROOMREEL_TWILIO_VIDEO_JS", "")
    if not path or not Path(path).is_file():
        raise ApiError(
            404,
            NOT_FOUND,
            "twilio-video.min.js is not configured: run `npm pack twilio-video@2.36.0`, unpack it, and set "
            "ROOMREEL_TWILIO_VIDEO_JS to its package/dist/twilio-video.min.js",
        )
    return FileResponse(path, media_type="text/javascript")


@router.get("/static/{filename}")
async def asset(filename: str) -> FileResponse:
    if filename not in ASSETS:
        raise not_found(f"/static/{filename}")
    return FileResponse(STATIC / filename, media_type=ASSETS[filename], headers={"Cache-Control": "no-cache"})
