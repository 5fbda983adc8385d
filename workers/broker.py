"""The dramatiq broker named by ROOMREEL_BROKER_URL: Redis, RabbitMQ, or in-process (`memory`)."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker

from pipeline.config import AMQP_SCHEMES, REDIS_SCHEMES


def make_broker(url: str) -> dramatiq.Broker:
    if url == "memory":
        return StubBroker()
    if url.startswith(REDIS_SCHEMES):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url)
    if url.startswith(AMQP_SCHEMES):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url)
    raise ValueError(f"ROOMREEL_BROKER_URL must be redis://, amqp:// or memory, got {url!r}")
