"""The one thread that writes a process's room state to the database, in event order.

Rows must land in the order events happened (track-added before track-removed, a recording's
row before its events), whoever submits them: the SFU for rooms, participants and tracks, and
observers such as the recorder for their own rows. A single worker thread keeps that order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

log = logging.getLogger("roomreel.sfu")


class StateWriter:
    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sfu-db")

    @property
    def executor(self) -> Executor:
        """For blocking work that must follow every write submitted before it."""
        return self._executor

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Write now, in order, and wait for the result."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def later(self, fn: Callable[..., Any], *args: Any) -> None:
        """Write in order without waiting; a failure is logged."""
        future = self._executor.submit(fn, *args)
        future.add_done_callback(
            lambda f: f.exception() and log.error("room state write failed: %s", f.exception())
        )

    async def persisted(self) -> None:
        """Wait until every write submitted so far is in the database."""
        await self.run(lambda: None)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)
