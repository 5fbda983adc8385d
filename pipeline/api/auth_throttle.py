"""A ceiling on failed authentications, per client address and per account name.

Checked before any database work, so a flood of wrong passwords is answered from memory (or
one Redis round trip) and cannot crowd out the requests of people who hold a key. Counters are
fixed windows: per process on the embedded defaults, shared through Redis when the deployment's
broker is Redis, so every `serve` process of a deployment counts the same failures.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from pipeline.error_codes import TOO_MANY_REQUESTS

from .errors import ApiError

WINDOW = 60
# Far above what a person or a misconfigured script retrying makes, far below a guessing run.
ADDRESS_LIMIT = 60
ACCOUNT_LIMIT = 300


class FailureCounts(Protocol):
    async def count(self, key: str, window: int) -> int: ...

    async def add(self, key: str, window: int) -> int: ...


@dataclass
class MemoryCounts:
    _counts: dict[tuple[str, int], int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def count(self, key: str, window: int) -> int:
        return self._counts.get((key, window), 0)

    async def add(self, key: str, window: int) -> int:
        with self._lock:
            # Windows before this one no longer count; drop them so the table stays small.
            for stale in [k for k in self._counts if k[1] < window]:
                del self._counts[stale]
            self._counts[(key, window)] = self._counts.get((key, window), 0) + 1
            return self._counts[(key, window)]


class RedisCounts:
    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def _key(self, key: str, window: int) -> str:
        return f"roomreel:auth-failures:{key}:{window}"

    async def count(self, key: str, window: int) -> int:
        try:
            return int(await self._redis.get(self._key(key, window)) or 0)
        except Exception:  # Redis down: authentication goes on, unthrottled, rather than stops
            return 0

    async def add(self, key: str, window: int) -> int:
        name = self._key(key, window)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                added, _ = await pipe.incr(name).expire(name, 2 * WINDOW).execute()
            return int(added)
        except Exception:
            return 0


def counts_for(broker_url: str) -> FailureCounts:
    if broker_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisCounts(broker_url)
    return MemoryCounts()


def _too_many(what: str, window: int) -> ApiError:
    retry = max(1, int((window + 1) * WINDOW - time.time()))
    return ApiError(
        429,
        TOO_MANY_REQUESTS,
        f"Too many failed authentications {what}: retry in {retry} s",
        headers={"Retry-After": str(retry)},
    )


class AuthThrottle:
    def __init__(
        self, counts: FailureCounts, address_limit: int = ADDRESS_LIMIT, account_limit: int = ACCOUNT_LIMIT
    ) -> None:
        self.counts = counts
        self.address_limit = address_limit
        self.account_limit = account_limit

    async def check(self, address: str) -> None:
        """Before the credentials are looked at: an address past its failures waits."""
        window = int(time.time() // WINDOW)
        if await self.counts.count(f"address:{address}", window) >= self.address_limit:
            raise _too_many("from this address", window)

    async def failed(self, address: str, user: str) -> ApiError | None:
        """Counts one failure; past the account's limit, the answer is 429 instead of 401, so a
        guessing run spread over many addresses learns nothing more."""
        window = int(time.time() // WINDOW)
        await self.counts.add(f"address:{address}", window)
        if await self.counts.add(f"account:{user[:64]}", window) > self.account_limit:
            return _too_many("for this account", window)
        return None
