"""The nodes of a cluster in Redis: each refreshes its own entry; an entry that expires is a dead node."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from redis.asyncio import Redis


@dataclass
class NodeInfo:
    id: str
    url: str  # where the other nodes relay signaling to
    rtc: list[str] = field(default_factory=list)  # the addresses media reaches this node at
    rooms: int = 0
    participants: int = 0
    streams: int = 0  # forwarded media streams
    recorded: int = 0  # tracks its recorder writes
    cpu: float = 0.0  # the process's CPU-seconds per second since its last report
    draining: bool = False
    started: float = 0.0
    updated: float = 0.0

    @classmethod
    def from_json(cls, text: str | bytes) -> NodeInfo:
        data: dict[str, Any] = json.loads(text)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


class NodeRegistry:
    """Entries live under `{prefix}:node:{id}` with a TTL; `{prefix}:nodes` indexes them."""

    def __init__(self, redis: Redis, prefix: str, ttl: float) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl

    def _key(self, node_id: str) -> str:
        return f"{self.prefix}:node:{node_id}"

    async def publish(self, info: NodeInfo) -> None:
        info.updated = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(info.id), info.to_json(), px=int(self.ttl * 1000))
            pipe.sadd(f"{self.prefix}:nodes", info.id)
            await pipe.execute()

    async def remove(self, node_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(node_id))
            pipe.srem(f"{self.prefix}:nodes", node_id)
            await pipe.execute()

    async def live(self) -> list[NodeInfo]:
        """Every node whose entry has not expired, by id; expired ones leave the index."""
        ids = sorted(
            i.decode() if isinstance(i, bytes) else i
            for i in await self.redis.smembers(f"{self.prefix}:nodes")
        )
        if not ids:
            return []
        values = await self.redis.mget([self._key(i) for i in ids])
        nodes, gone = [], []
        for node_id, value in zip(ids, values):
            if value is None:
                gone.append(node_id)
            else:
                nodes.append(NodeInfo.from_json(value))
        if gone:
            await self.redis.srem(f"{self.prefix}:nodes", *gone)
        return nodes

    async def get(self, node_id: str) -> NodeInfo | None:
        value = await self.redis.get(self._key(node_id))
        return NodeInfo.from_json(value) if value is not None else None
