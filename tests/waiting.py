"""Waiting for a condition with a deadline, never a bare sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float, what: str, every: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


async def until_quiet(count: Callable[[], int], quiet: float = 0.5, timeout: float = 20.0) -> None:
    """Until `count()` has not changed for `quiet` seconds (whatever was in flight has arrived),
    or `timeout` passed: then the caller's own assertion says what kept coming."""
    import asyncio

    deadline = time.monotonic() + timeout
    last, since = count(), time.monotonic()
    while time.monotonic() - since < quiet and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        if count() != last:
            last, since = count(), time.monotonic()
