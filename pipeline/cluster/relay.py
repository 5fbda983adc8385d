"""A client's signaling socket carried to the node that runs its room.

The node the client reached keeps the client's socket and opens one to the room's node; frames
pass unchanged both ways and a close on either side closes the other with the same code. Media
never passes here: the room's node puts its own addresses in the ICE candidates.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from pipeline.metrics import RELAYED_BYTES, RELAYED_SOCKETS

log = logging.getLogger("roomreel.cluster")
RELAYED_BY = "x-roomreel-relayed-by"  # marks a relayed socket, so it is never relayed again
OPEN_TIMEOUT = 5.0


class RelayFailed(Exception):
    """The room's node could not be reached; the caller decides what the client hears."""


def ws_url(base: str, path: str, query: str = "") -> str:
    url = base.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + path
    return f"{url}?{query}" if query else url


async def open_upstream(url: str, node_id: str) -> ClientConnection:
    try:
        return await connect(
            url,
            additional_headers={RELAYED_BY: node_id},
            max_size=2**24,
            open_timeout=OPEN_TIMEOUT,
            ping_interval=None,  # the client and the room's node keep their own heartbeats
            compression=None,
        )
    except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
        raise RelayFailed(f"{url}: {exc}") from None


async def pipe(
    client: WebSocket,
    upstream: ClientConnection,
    send_first: Iterable[str] = (),
    drop_replies: int = 0,
) -> None:
    """Carries frames both ways until one side closes. `send_first` go upstream before anything
    else; the first `drop_replies` upstream frames are swallowed (answers the client already had
    from this node, such as TCMP's welcome)."""
    RELAYED_SOCKETS.inc()
    to_node, to_client = RELAYED_BYTES.labels("to_node"), RELAYED_BYTES.labels("to_client")
    for text in send_first:
        await upstream.send(text)
        to_node.inc(len(text))
    close_code, close_reason = 1000, ""

    async def downstream() -> None:
        nonlocal close_code, close_reason, drop_replies
        try:
            async for text in upstream:
                if drop_replies:
                    drop_replies -= 1
                    continue
                await client.send_text(text if isinstance(text, str) else text.decode())
                to_client.inc(len(text))
        except ConnectionClosed:
            pass
        if upstream.close_code is not None:
            close_code, close_reason = upstream.close_code, upstream.close_reason or ""

    async def upstream_side() -> None:
        while True:
            try:
                message = await client.receive()
            except (RuntimeError, WebSocketDisconnect):
                return
            if message["type"] == "websocket.disconnect":
                await upstream.close(message.get("code") or 1000, message.get("reason") or "")
                return
            data = message.get("text") if message.get("text") is not None else message.get("bytes")
            try:
                await upstream.send(data)
            except ConnectionClosed:
                return
            to_node.inc(len(data or ""))

    down, up = asyncio.ensure_future(downstream()), asyncio.ensure_future(upstream_side())
    try:
        await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (down, up):
            task.cancel()
        await asyncio.gather(down, up, return_exceptions=True)
        await upstream.close()
        try:
            await client.close(close_code if close_code not in (1005, 1006) else 1011, close_reason[:120])
        except (RuntimeError, WebSocketDisconnect):
            pass
