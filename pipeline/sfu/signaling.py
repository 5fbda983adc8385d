"""The signaling protocol (docs/signaling.md): JSON messages over one WebSocket per participant."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pipeline.logs import bind

from .access_token import AccessTokenError
from .participant import Participant, Send, SignalingError
from .sfu import Sfu

log = logging.getLogger("roomreel.sfu")

Receive = Callable[[], Awaitable[dict[str, Any] | None]]  # None when the socket closed
Close = Callable[[int, str], Awaitable[None]]

CLOSE_REFUSED = 4401  # token refused
CLOSE_ERROR = 4400  # protocol error or room refused


async def session(
    sfu: Sfu, token: str | None, room: str | None, receive: Receive, send: Send, close: Close
) -> None:
    """Admit the participant, then serve its messages until it leaves or is disconnected."""
    try:
        grant = await sfu.authenticate(token or "", room)
    except AccessTokenError as exc:
        await send({"type": "error", "code": exc.code, "message": exc.message})
        await close(CLOSE_REFUSED, exc.message[:120])
        return
    try:
        participant = await sfu.join(grant, send)
    except SignalingError as exc:
        await send({"type": "error", "code": exc.code, "message": exc.message})
        await close(CLOSE_ERROR, exc.message[:120])
        return
    bind(room_sid=participant.room.sid, participant_sid=participant.sid)
    log.info("%s connected", participant.identity)
    ended = asyncio.ensure_future(participant.ended.wait())
    try:
        while not participant.closed:
            # Also stop when the SFU ends the participant (replaced, removed, room completed),
            # so the socket closes then and not at the client's next message.
            incoming = asyncio.ensure_future(receive())
            await asyncio.wait({incoming, ended}, return_when=asyncio.FIRST_COMPLETED)
            if not incoming.done():
                incoming.cancel()
                break
            message = incoming.result()
            if message is None:
                break
            try:
                done = await handle(participant, message)
            except SignalingError as exc:
                await send({"type": "error", "code": exc.code, "message": exc.message})
                continue
            if done:
                break
    finally:
        ended.cancel()
        await participant.room.disconnect(participant)
        await close(1000, "bye")
        log.info("%s disconnected", participant.identity)


async def handle(participant: Participant, message: dict[str, Any]) -> bool:
    """Apply one client message; True when the participant leaves."""
    kind = message.get("type")
    if kind == "publish":
        sdp = message.get("sdp")
        if sdp is not None and not isinstance(sdp, str):
            raise SignalingError(53400, "publish: sdp must be a string")
        tracks = message.get("tracks")
        if not isinstance(tracks, list) or not tracks:
            raise SignalingError(53400, "publish: tracks must be a non-empty list")
        try:
            await participant.publish(sdp, tracks)
        except SignalingError:
            raise
        except Exception as exc:  # aiortc rejects malformed or incompatible SDP with assorted errors
            raise SignalingError(53402, f"publish: the offer was refused: {exc}") from None
    elif kind == "answer":
        sdp = message.get("sdp")
        if not isinstance(sdp, str):
            raise SignalingError(53400, "answer: sdp must be a string")
        participant.answer(sdp)
    elif kind == "unpublish":
        await participant.unpublish(str(message.get("name")))
    elif kind == "enable":
        await participant.set_enabled(str(message.get("name")), message.get("enabled") is not False)
    elif kind == "ping":
        await participant.send({"type": "pong"})
    elif kind == "leave":
        return True
    else:
        raise SignalingError(53400, f"unknown message type {kind!r}")
    return False
