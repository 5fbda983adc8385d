"""The dramatiq broker named by ROOMREEL_BROKER_URL: Redis, RabbitMQ, or in-process (`memory`)."""

from __future__ import annotations

import logging

import dramatiq
from dramatiq.brokers.stub import StubBroker

from pipeline.config import AMQP_SCHEMES, REDIS_SCHEMES


def broker_error(url: str, timeout: float = 3.0) -> str | None:
    """Why the broker cannot be reached now, in one line, or None when it answers."""
    try:
        if url.startswith(REDIS_SCHEMES):
            import redis

            redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout).ping()
        elif url.startswith(AMQP_SCHEMES):
            import pika

            parameters = pika.URLParameters(url)
            parameters.socket_timeout = parameters.blocked_connection_timeout = timeout
            parameters.connection_attempts = 1
            pika.BlockingConnection(parameters).close()
    except Exception as exc:
        text = str(exc).splitlines()[0] if str(exc) else ""
        return f"{type(exc).__name__}: {text}".rstrip(": ")
    return None


class _QuietConnectionErrors(logging.Filter):
    """dramatiq's consumer threads log a CRITICAL line for every failed reconnect, from every
    thread of every process; `roomreel worker` says it once per attempt instead (workers/main.py)."""

    NOISE = ("Consumer encountered a connection error", "Restarting consumer in")

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("dramatiq.worker") and str(record.msg).startswith(self.NOISE))


def quiet_connection_errors() -> None:
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _QuietConnectionErrors) for f in handler.filters):
            handler.addFilter(_QuietConnectionErrors())


def make_broker(url: str) -> dramatiq.Broker:
    if url == "memory":
        return StubBroker()
    quiet_connection_errors()
    if url.startswith(REDIS_SCHEMES):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url)
    if url.startswith(AMQP_SCHEMES):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url)
    raise ValueError(f"ROOMREEL_BROKER_URL must be redis://, amqp:// or memory, got {url!r}")
