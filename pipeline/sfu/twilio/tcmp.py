"""TCMP, the framing twilio-video.js puts around its signaling messages on the WebSocket.

The client opens with `hello` (its body is the first signaling message) and waits for `welcome`
with a numeric `negotiatedTimeout`; both sides then send `heartbeat` whenever they have been
quiet, and carry signaling messages as `msg` bodies. A client closes the socket after three
timeouts without hearing from us, so heartbeats go out at a third of it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("roomreel.twilio")

NEGOTIATED_TIMEOUT_MS = 5000  # the client asks for 5000; never more than it asked
CLIENT_SILENCE_LIMIT = 3  # timeouts without a frame before the client counts as gone

ReceiveText = Callable[[], Awaitable[str | None]]  # None once the socket closed
SendText = Callable[[str], Awaitable[None]]
CloseSocket = Callable[[int, str], Awaitable[None]]


class TcmpConnection:
    def __init__(self, receive_text: ReceiveText, send_text: SendText, close_socket: CloseSocket) -> None:
        self._receive_text = receive_text
        self._send_text = send_text
        self._close_socket = close_socket
        self.timeout = NEGOTIATED_TIMEOUT_MS / 1000
        self.closed = False
        self.said_bye = False  # the client closed on purpose; otherwise it may come back with `sync`
        self._heartbeat: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    async def handshake(self) -> dict[str, Any] | None:
        """Wait for `hello` and answer `welcome`; its body (the first signaling message)."""
        while not self.closed:
            frame = await self._frame()
            if frame is None:
                return None
            if frame.get("type") == "hello":
                requested = frame.get("timeout")
                if isinstance(requested, int | float) and 1000 <= requested < NEGOTIATED_TIMEOUT_MS:
                    self.timeout = requested / 1000
                await self._write({"type": "welcome", "negotiatedTimeout": int(self.timeout * 1000)})
                self._heartbeat = asyncio.ensure_future(self._beat())
                body = frame.get("body")
                return body if isinstance(body, dict) else {}
        return None

    async def receive(self) -> dict[str, Any] | None:
        """The next signaling message; None when the client said bye, closed or went silent."""
        while not self.closed:
            try:
                frame = await asyncio.wait_for(self._frame(), self.timeout * CLIENT_SILENCE_LIMIT)
            except TimeoutError:
                log.info("client silent for %.0f s", self.timeout * CLIENT_SILENCE_LIMIT)
                return None
            if frame is None:
                return None
            kind = frame.get("type")
            if kind == "msg" and isinstance(frame.get("body"), dict):
                return frame["body"]
            if kind == "hello":  # a repeated hello: our welcome was late
                await self._write({"type": "welcome", "negotiatedTimeout": int(self.timeout * 1000)})
            elif kind == "bye":
                self.said_bye = True
                return None
        return None

    async def send(self, body: dict[str, Any]) -> None:
        await self._write({"type": "msg", "body": body})

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """1000 is a clean disconnect to the client; anything else makes it try to resume."""
        if self.closed:
            return
        self.closed = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        try:
            await self._close_socket(code, reason)
        except Exception:  # already gone
            pass

    def detach(self) -> None:
        """Stops speaking on the socket without closing it: another node's TCMP takes over."""
        self.closed = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()

    async def _frame(self) -> dict[str, Any] | None:
        while True:
            text = await self._receive_text()
            if text is None:
                return None
            try:
                frame = json.loads(text)
            except ValueError:
                log.debug("ignored a frame that is not JSON")
                continue
            if isinstance(frame, dict):
                log.debug("<- %s", text)
                return frame

    async def _write(self, frame: dict[str, Any]) -> None:
        if self.closed:
            return
        text = json.dumps(frame, separators=(",", ":"))
        if frame.get("type") != "heartbeat":
            log.debug("-> %s", text)
        async with self._lock:
            try:
                await self._send_text(text)
            except Exception:  # the receive side notices the closed socket
                pass

    async def _beat(self) -> None:
        while not self.closed:
            await asyncio.sleep(self.timeout / 3)
            await self._write({"type": "heartbeat"})
