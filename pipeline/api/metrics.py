"""GET /metrics: Prometheus text format, open like a health check (no SIDs, only counts)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    # The database gauges block, so off the loop; the SFU's rooms are read on the loop that owns them.
    body = await run_in_threadpool(generate_latest, request.app.state.metrics)
    body += generate_latest(request.app.state.live_metrics)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
