"""The dramatiq broker named by ROOMREEL_BROKER_URL: Redis, RabbitMQ, or in-process (`memory`)."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker


def make_broker(url: str) -> dramatiq.Broker:
    if url == "memory":
        return StubBroker()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url)
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url)
    raise ValueError(f"ROOMREEL_BROKER_URL must be redis://, amqp:// or memory, got {url!r}")
