"""`/signaling`: the WebSocket twilio-video.js connects to when an app passes
`wsServer: 'wss://HOST/signaling'` (pipeline/sfu/twilio)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from pipeline.sfu.twilio.session import session
from pipeline.sfu.twilio.tcmp import TcmpConnection

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

    await session(websocket.app.state.sfu, TcmpConnection(receive_text, websocket.send_text, close))
