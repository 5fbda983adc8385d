"""Browser pages: the room client at /rooms/{name}."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
