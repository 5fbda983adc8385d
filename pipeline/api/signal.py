"""The signaling WebSocket (`/v1/signal?token=JWT[&room=NAME]`) and the dev-only token route."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from pipeline.accounts import create_api_key
from pipeline.cluster.node import ClusterNode
from pipeline.cluster.registry import NodeInfo
from pipeline.cluster.relay import RELAYED_BY, RelayFailed, open_upstream, pipe, ws_url
from pipeline.db.models import ApiKey
from pipeline.error_codes import INVALID_PARAMETER
from pipeline.sfu import signaling
from pipeline.sfu.access_token import mint

from .errors import ApiError, not_found

log = logging.getLogger("roomreel.cluster")
router = APIRouter()
DEV_KEY_NAME = "roomreel dev tokens"


@router.websocket("/v1/signal")
async def signal(websocket: WebSocket) -> None:
    await websocket.accept()
    params = websocket.query_params
    cluster = websocket.app.state.cluster
    if cluster is not None and RELAYED_BY not in websocket.headers:
        node = await cluster.route_token(params.get("token"), params.get("room"))
        if node is not None and await relay(cluster, node, websocket, "/v1/signal", websocket.url.query):
            return
    closed = False

    async def receive() -> dict[str, Any] | None:
        while True:
            try:
                text = await websocket.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                return None
            try:
                message = json.loads(text)
            except ValueError:
                await send(
                    {"type": "error", "code": INVALID_PARAMETER, "message": "messages must be JSON objects"}
                )
                continue
            if isinstance(message, dict):
                return message
            await send(
                {"type": "error", "code": INVALID_PARAMETER, "message": "messages must be JSON objects"}
            )

    async def send(message: dict[str, Any]) -> None:
        if not closed:
            try:
                await websocket.send_text(json.dumps(message))
            except (RuntimeError, WebSocketDisconnect):
                pass  # the client went away; the receive side ends the session

    async def close(code: int, reason: str) -> None:
        nonlocal closed
        if not closed:
            closed = True
            try:
                await websocket.close(code, reason)
            except (RuntimeError, WebSocketDisconnect):
                pass

    await signaling.session(
        websocket.app.state.sfu, params.get("token"), params.get("room"), receive, send, close
    )


async def relay(
    cluster: ClusterNode,
    node: NodeInfo,
    websocket: WebSocket,
    path: str,
    query: str = "",
    hello: str | None = None,
    on_open: Callable[[], None] | None = None,
) -> bool:
    """Carries the socket to `node`, which runs the room; False when that node cannot be
    reached (this node then serves the client itself, or tells it why not). `on_open` runs once
    the room's node has accepted, before any frame passes."""
    try:
        upstream = await open_upstream(ws_url(node.url, path, query), cluster.id)
    except RelayFailed as exc:
        log.warning("relay to node %s failed: %s", node.id, exc)
        cluster.unreachable(node)
        return False
    if on_open is not None:
        on_open()
    await pipe(websocket, upstream, [hello] if hello else (), drop_replies=1 if hello else 0)
    return True


def dev_key(db, account_sid: str) -> ApiKey:
    """The API key that signs dev tokens, made on first use."""
    with db.session() as session:
        key = session.scalars(
            select(ApiKey).where(ApiKey.account_sid == account_sid, ApiKey.friendly_name == DEV_KEY_NAME)
        ).first()
    return key or create_api_key(db, account_sid, DEV_KEY_NAME)


@router.get("/dev/token", include_in_schema=False)
async def dev_token(request: Request, identity: str, room: str):
    """Tokens for anyone who asks: only with ROOMREEL_DEV_TOKENS=1, for the demo and local testing."""
    if not request.app.state.dev_tokens:
        raise not_found("/dev/token")
    if not identity or len(identity) > 128 or not room or len(room) > 128:
        raise ApiError(400, INVALID_PARAMETER, "identity and room must have 1 to 128 characters")
    services = request.app.state.services

    def work() -> str:
        from pipeline.accounts import ensure_account

        account, _ = ensure_account(services.db, services.settings)
        key = dev_key(services.db, account.sid)
        return mint(account.sid, key.sid, key.secret, identity, room)

    return {"token": await run_in_threadpool(work), "identity": identity, "room": room}
