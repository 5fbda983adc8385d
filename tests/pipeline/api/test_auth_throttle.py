"""Failed authentications have a ceiling per client address and per account (#17.7), answered
before any database work, and GET queries run apart from writes."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from pipeline.api.auth_throttle import AuthThrottle, MemoryCounts, RedisCounts
from pipeline.api.errors import ApiError
from tests.services import REDIS_URL, ensure_redis


@pytest.fixture
def strict(server):
    """The module's server with a low address ceiling for one test."""
    state = server.app.state
    before = state.auth_throttle
    state.auth_throttle = AuthThrottle(MemoryCounts(), address_limit=5, account_limit=1000)
    yield state.auth_throttle
    state.auth_throttle = before


def test_an_address_past_its_failures_gets_429_before_its_credentials_are_read(server, strict):
    url = f"{server.base}/v1/Rooms"
    answers = [httpx.get(url, auth=(server.account_sid, f"guess-{i}")).status_code for i in range(5)]
    assert answers == [401] * 5
    blocked = httpx.get(url, auth=(server.account_sid, server.auth_token))
    assert blocked.status_code == 429
    body = blocked.json()
    assert body["code"] == 20429 and body["status"] == 429 and "from this address" in body["message"]
    assert 1 <= int(blocked.headers["retry-after"]) <= 60
    # Requests without credentials cost no lookup and are not counted.
    strict.counts = MemoryCounts()
    for _ in range(10):
        assert httpx.get(url).status_code == 401
    assert httpx.get(url, auth=(server.account_sid, server.auth_token)).status_code == 200


def failures(throttle: AuthThrottle, address: str, user: str) -> ApiError | None:
    return asyncio.run(throttle.failed(address, user))


def test_a_guessing_run_spread_over_addresses_is_stopped_per_account():
    throttle = AuthThrottle(MemoryCounts(), address_limit=5, account_limit=20)
    answers = [failures(throttle, f"198.51.100.{i}", "AC" + "1" * 32) for i in range(25)]
    assert answers[:20] == [None] * 20
    assert all(a is not None and a.status == 429 and "for this account" in a.message for a in answers[20:])
    # Another account is not affected.
    assert failures(throttle, "198.51.100.99", "AC" + "2" * 32) is None


@pytest.mark.services
def test_every_process_of_a_deployment_counts_the_same_failures_through_redis():
    ensure_redis()
    address = f"203.0.113.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"

    async def run():
        first = AuthThrottle(RedisCounts(REDIS_URL), address_limit=3)
        second = AuthThrottle(RedisCounts(REDIS_URL), address_limit=3)
        for throttle in (first, second, first):
            await throttle.failed(address, "AC" + "3" * 32)
        with pytest.raises(ApiError) as caught:
            await second.check(address)
        return caught.value

    assert asyncio.run(run()).status == 429


def test_a_redis_that_is_down_throttles_nothing_and_stops_nothing():
    async def run():
        throttle = AuthThrottle(RedisCounts("redis://127.0.0.1:1/0"), address_limit=1)
        await throttle.failed("192.0.2.1", "AC" + "4" * 32)
        await throttle.check("192.0.2.1")

    asyncio.run(run())
