"""Browser pages: the room client at /rooms/{name} (docs/signaling.md describes its protocol).

The page is static HTML and JavaScript: it reads the room name from its own path, the identity
from `?identity=` (random otherwise) and a token from `?token=` or, when the server runs with
ROOMREEL_DEV_TOKENS=1, from `/dev/token`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

from .errors import not_found

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"
ASSETS = {
    "room.js": "text/javascript",
    "room.css": "text/css",
    "dashboard.js": "text/javascript",
    "dashboard.css": "text/css",
}


@router.get("/")
async def home() -> RedirectResponse:
    """The way in for a person who opens the server's address: the dashboard's sign-in."""
    return RedirectResponse("/dashboard", status_code=307)


@router.get("/rooms/{name}")
async def room_page(name: str) -> FileResponse:
    return FileResponse(STATIC / "room.html", media_type="text/html", headers={"Cache-Control": "no-cache"})


@router.get("/static/{filename}")
async def asset(filename: str) -> FileResponse:
    if filename not in ASSETS:
        raise not_found(f"/static/{filename}")
    return FileResponse(STATIC / filename, media_type=ASSETS[filename], headers={"Cache-Control": "no-cache"})
