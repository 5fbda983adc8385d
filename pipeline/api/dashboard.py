"""The dashboard at /dashboard: rooms, recordings, compositions and hooks, behind the API's auth."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
