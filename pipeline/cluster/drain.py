"""SIGTERM on a cluster node: take no new room, wait for this node's rooms to end, then stop.

Kubernetes (and systemd) send SIGTERM and wait a grace period; the node keeps serving its live
rooms meanwhile, the others take every new room. A second SIGTERM, or SIGINT at any time, stops at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from typing import Any

import uvicorn

log = logging.getLogger("roomreel.cluster")


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: Any) -> None:
        super().__init__(config)
        self.app = app
        self._drain: asyncio.Task | None = None

    def handle_exit(self, sig: int, frame: Any) -> None:
        # Only SIGTERM drains: Ctrl-C (SIGINT) on a node in a terminal stops it at once.
        if sig != signal.SIGTERM or self._drain is not None or self.should_exit:
            super().handle_exit(sig, frame)
            return
        self._drain = asyncio.get_event_loop().create_task(self._drain_then_exit())

    async def _drain_then_exit(self) -> None:
        cluster, sfu = self.app.state.cluster, self.app.state.sfu
        await cluster.drain()
        deadline = time.monotonic() + cluster.settings.drain_timeout
        log.warning(
            "draining: %d rooms left, waiting up to %.0f s", len(sfu.rooms), cluster.settings.drain_timeout
        )
        while sfu.rooms and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        if sfu.rooms:
            log.warning("drain timed out with %d rooms still live; they end now", len(sfu.rooms))
        self.should_exit = True
