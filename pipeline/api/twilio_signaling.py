"""`/signaling`: the WebSocket twilio-video.js connects to when an app passes
`wsServer: 'wss://HOST/signaling'` (pipeline/sfu/twilio)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from pipeline.cluster.relay import RELAYED_BY
from pipeline.sfu.twilio.session import session
from pipeline.sfu.twilio.tcmp import TcmpConnection

from .signal import relay

router = APIRouter()


@router.websocket("/signaling")
async def signaling(websocket: WebSocket) -> None:
    await websocket.accept()

    async def receive_text() -> str | None:
        try:
            return await websocket.receive_text()
        except (WebSocketDisconnect, RuntimeError, KeyError):
            return None  # closed, or a binary frame the SDK never sends

    async def close(code: int, reason: str) -> None:
        try:
            await websocket.close(code, reason)
        except (RuntimeError, WebSocketDisconnect):
            pass

    tcmp = TcmpConnection(receive_text, websocket.send_text, close)
    cluster = websocket.app.state.cluster

    async def elsewhere(body: dict[str, Any]) -> bool:
        """Relays the socket to the node that runs its room (or holds its session). This node
        has answered `hello` already, so the room's node gets a hello of its own carrying the
        same first message, and its welcome is not passed on."""
        if body.get("type") == "sync":
            node = await cluster.node_for_session(str(body.get("session") or ""))
        else:
            name = body.get("name")
            node = await cluster.route_token(body.get("token"), name if isinstance(name, str) else None)
        if node is None:
            return False
        hello = {"type": "hello", "id": uuid.uuid4().hex, "timeout": int(tcmp.timeout * 1000), "version": 2,
                 "body": body}  # fmt: skip
        return await relay(
            cluster, node, websocket, "/signaling", hello=json.dumps(hello), on_open=tcmp.detach
        )

    relayable = cluster is not None and RELAYED_BY not in websocket.headers
    await session(websocket.app.state.sfu, tcmp, elsewhere if relayable else None)
