"""The cluster's nodes as `roomreel status` shows them: each live node's address and load."""

from __future__ import annotations

import asyncio
import time

from redis.asyncio import Redis

from pipeline.db import Database
from pipeline.signing_key import deployment_fingerprint

from .registry import NodeInfo, NodeRegistry
from .settings import ClusterSettings


def live_nodes(settings: ClusterSettings, db: Database) -> list[NodeInfo]:
    async def read() -> list[NodeInfo]:
        redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
        try:
            prefix = f"roomreel:{deployment_fingerprint(db)[:16]}"
            return await NodeRegistry(redis, prefix, settings.ttl).live()
        finally:
            await redis.aclose()

    return asyncio.run(read())


def describe(node: NodeInfo) -> str:
    state = "draining" if node.draining else "serving"
    return (
        f"{state} at {node.url}, media at {','.join(node.rtc) or '-'}: {node.rooms} rooms, "
        f"{node.participants} participants, {node.streams} forwarded streams, {node.recorded} recorded "
        f"tracks, CPU {node.cpu:.2f}, up {time.time() - node.started:.0f} s"
    )
