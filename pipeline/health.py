"""`roomreel status`: is each part of a deployment reachable and doing its job?"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
from sqlalchemy import func, select

from pipeline.config import REDIS_SCHEMES, Settings
from pipeline.db import Database

# dramatiq's Redis broker drops a worker whose heartbeat is older than this (ms).
WORKER_HEARTBEAT_MS = 60_000


@dataclass
class Check:
    part: str
    ok: bool
    detail: str


def _timed(part: str, probe) -> Check:
    started = time.monotonic()
    try:
        detail = probe()
    except Exception as exc:  # every failure is a finding, reported as one line
        return Check(part, False, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    return Check(part, True, f"{detail} ({(time.monotonic() - started) * 1000:.0f} ms)")


def check_database(settings: Settings, db: Database) -> Check:
    def probe() -> str:
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        from pipeline.db.migrate import alembic_config

        with db.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        head = ScriptDirectory.from_config(alembic_config(settings.database_url)).get_current_head()
        if current != head:
            raise RuntimeError(f"schema at {current}, code expects {head}: run `roomreel db upgrade`")
        return f"{settings.database_url.split('@')[-1].split('?')[0]} at {head}"

    return _timed("database", probe)


def check_storage(settings: Settings) -> Check:
    def probe() -> str:
        from pipeline.storage import open_storage

        # The round trip signs no link, so it needs no key of the deployment's.
        storage = open_storage(settings.storage_url, secrets.token_hex(16), settings.public_url)
        key = f"health/{uuid.uuid4().hex}.txt"
        with TemporaryDirectory() as tmp:
            probe_file = Path(tmp) / "probe.txt"
            probe_file.write_text("roomreel")
            storage.put_file(key, probe_file)
            storage.get_file(key, Path(tmp) / "back.txt")
            same = (Path(tmp) / "back.txt").read_text() == "roomreel"
        storage.delete(key)
        if not same:
            raise RuntimeError("read back something else than was written")
        return f"{settings.storage_url.split('?')[0]} writable"

    return _timed("storage", probe)


def check_broker(settings: Settings) -> tuple[Check, Check]:
    """The broker, and the workers it sees."""
    url = settings.broker_url
    if url == "memory":
        return (
            Check("broker", True, "in-process (embedded defaults)"),
            Check("workers", True, "embedded in `roomreel serve`"),
        )
    if url.startswith(REDIS_SCHEMES):
        import redis

        def ping() -> str:
            client = redis.Redis.from_url(url, socket_timeout=3)
            client.ping()
            waiting = sum(client.llen(f"dramatiq:{q}") for q in ("compose", "callbacks", "default"))
            return f"{url.split('@')[-1]} ({waiting} messages waiting)"

        broker = _timed("broker", ping)
        if not broker.ok:
            return broker, Check("workers", False, "unknown: the broker is down")
        client = redis.Redis.from_url(url, socket_timeout=3)
        now = int(time.time() * 1000)
        alive = client.zcount("dramatiq:__heartbeats__", now - WORKER_HEARTBEAT_MS, "+inf")
        return broker, Check("workers", alive > 0, f"{alive} worker processes heartbeating")
    # Settings admit no other scheme: this is RabbitMQ.
    import pika

    def consumers() -> tuple[str, int]:
        connection = pika.BlockingConnection(pika.URLParameters(url))
        try:
            channel = connection.channel()
            declared = channel.queue_declare("compose", passive=True)
            return url.split("@")[-1], declared.method.consumer_count
        finally:
            connection.close()

    try:
        where, count = consumers()
    except Exception as exc:
        return Check("broker", False, f"{type(exc).__name__}: {exc}"), Check("workers", False, "unknown")
    return Check("broker", True, where), Check("workers", count > 0, f"{count} consumers on compose")


def check_queue(db: Database, stale_after: timedelta = timedelta(seconds=60)) -> Check:
    def probe() -> str:
        from pipeline.db.models import Composition, Recording, utcnow

        with db.session() as session:
            count = lambda *where: session.scalar(select(func.count()).where(*where)) or 0  # noqa: E731
            enqueued = count(Composition.status == "enqueued")
            processing = count(Composition.status == "processing")
            stale = count(
                Composition.status == "processing", Composition.heartbeat_at < utcnow() - stale_after
            )
            recording = count(Recording.status == "processing")
        if stale:
            raise RuntimeError(f"{stale} compositions stopped heartbeating (is a worker running?)")
        return f"{enqueued} enqueued, {processing} processing, {recording} recordings processing"

    return _timed("queue", probe)


def check_api(settings: Settings) -> Check:
    def probe() -> str:
        try:
            response = httpx.get(f"{settings.public_url}/openapi.json", timeout=3)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise RuntimeError(f"no answer at {settings.public_url} ({exc})") from None
        return f"{settings.public_url} answers"

    return _timed("api", probe)


def check_cluster(settings: Settings, db: Database) -> list[Check]:
    """One line for the cluster, then one per live node with its load; nothing when alone."""
    from pipeline.cluster.settings import ClusterSettings
    from pipeline.cluster.status import describe, live_nodes

    cluster = ClusterSettings.from_env(settings.data_dir, settings.broker_url, settings.public_url)
    if cluster is None:
        return []
    try:
        nodes = live_nodes(cluster, db)
    except Exception as exc:  # Redis down, or no schema yet: the other checks say which
        return [
            Check("cluster", False, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        ]
    serving = [n for n in nodes if not n.draining]
    cluster_check = Check(
        "cluster",
        bool(serving),
        f"{len(nodes)} live node{'' if len(nodes) == 1 else 's'} ({len(serving)} taking rooms) on {cluster.redis_url.split('@')[-1]}",
    )
    return [cluster_check, *(Check(f"node {n.id}", True, describe(n)) for n in nodes)]


def run_checks(settings: Settings) -> list[Check]:
    db = Database(settings.database_url)  # one engine for the schema and the queue checks
    try:
        return [
            check_database(settings, db),
            check_api(settings),
            *check_broker(settings),
            check_queue(db),
            check_storage(settings),
            *check_cluster(settings, db),
        ]
    finally:
        db.engine.dispose()
