"""Operations on a live room, carried through Redis to the node that runs it.

A call publishes `{op, args, reply}` on the node's channel and waits on the reply list. Publishing
to a channel nobody listens on reaches no one, so a dead node is known at once, not after a timeout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

log = logging.getLogger("roomreel.cluster")
Handler = Callable[..., Awaitable[Any]]
REPLY_TTL_MS = 60_000


class NodeUnreachable(Exception):
    """The node did not take or did not answer the command."""


class CommandBus:
    def __init__(self, redis: Redis, prefix: str, node_id: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self.node_id = node_id
        self.handlers: dict[str, Handler] = {}
        self._tasks: set[asyncio.Task] = set()

    def channel(self, node_id: str) -> str:
        return f"{self.prefix}:commands:{node_id}"

    def handle(self, op: str, handler: Handler) -> None:
        self.handlers[op] = handler

    async def serve(self, ready: asyncio.Event | None = None) -> None:
        """Runs this node's commands as they arrive; each on a task of its own."""
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(self.channel(self.node_id))
        if ready is not None:
            ready.set()
        try:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                task = asyncio.ensure_future(self._run(message["data"]))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            await pubsub.aclose()

    async def _run(self, data: bytes | str) -> None:
        try:
            command = json.loads(data)
            op, reply = command["op"], command["reply"]
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed cluster command")
            return
        handler = self.handlers.get(op)
        try:
            if handler is None:
                raise LookupError(f"unknown command {op!r}")
            answer = {"ok": True, "result": await handler(**command.get("args", {}))}
        except Exception as exc:  # the caller reports it; this node carries on
            log.warning("cluster command %s failed: %s", op, exc)
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(reply, json.dumps(answer))
            pipe.pexpire(reply, REPLY_TTL_MS)
            await pipe.execute()

    async def call(self, node_id: str, op: str, timeout: float = 10.0, **args: Any) -> Any:
        reply = f"{self.prefix}:reply:{uuid.uuid4().hex}"
        command = json.dumps({"op": op, "args": args, "reply": reply})
        if not await self.redis.publish(self.channel(node_id), command):
            raise NodeUnreachable(f"node {node_id} is not listening")
        answer = await self.redis.blpop([reply], timeout=timeout)
        if answer is None:
            raise NodeUnreachable(f"node {node_id} did not answer {op} within {timeout:g} s")
        result = json.loads(answer[1])
        if not result.get("ok"):
            raise NodeUnreachable(f"node {node_id} could not {op}: {result.get('error')}")
        return result.get("result")
