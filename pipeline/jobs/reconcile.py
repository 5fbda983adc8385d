"""Find work in the database: stale claims to release, compositions ready to run, callbacks due."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import or_, select, update

from pipeline.db import Database
from pipeline.db.models import CallbackDelivery, Composition, utcnow

from .compose import ready

STALE_AFTER = timedelta(seconds=60)


def release_stale(db: Database, stale_after: timedelta = STALE_AFTER) -> list[str]:
    """processing -> enqueued for jobs whose worker stopped heartbeating (it died)."""
    cutoff = utcnow() - stale_after
    with db.session() as session:
        sids = session.scalars(
            select(Composition.sid).where(
                Composition.status == "processing",
                # A split composition lives through its parts, which have heartbeats of their own.
                or_(Composition.worker_id.is_(None), Composition.worker_id != "split"),
                or_(Composition.heartbeat_at.is_(None), Composition.heartbeat_at < cutoff),
            )
        ).all()
        if sids:
            session.execute(
                update(Composition)
                .where(Composition.sid.in_(sids), Composition.status == "processing")
                .values(status="enqueued", worker_id=None)
            )
        return list(sids)


def ready_compositions(db: Database) -> list[tuple[str, int]]:
    with db.session() as session:
        rows = session.execute(
            select(Composition.sid, Composition.priority)
            .where(Composition.status == "enqueued")
            .order_by(Composition.priority, Composition.date_created)
        ).all()
    return [(sid, priority) for sid, priority in rows if ready(db, sid)]


def _due(db: Database) -> list[tuple[int, str]]:
    with db.session() as session:
        rows = session.execute(
            select(CallbackDelivery.id, CallbackDelivery.url)
            .where(
                # `sending` past its lease: the worker sending it died
                CallbackDelivery.status.in_(("pending", "sending")),
                CallbackDelivery.next_attempt_at <= utcnow(),
            )
            .order_by(CallbackDelivery.id)
        ).all()
    return [(delivery_id, url) for delivery_id, url in rows]


def due_deliveries(db: Database) -> list[int]:
    return [delivery_id for delivery_id, _ in _due(db)]


def due_deliveries_by_origin(db: Database) -> dict[str, list[int]]:
    """Due deliveries grouped by scheme, host and port, each group oldest first."""
    groups: dict[str, list[int]] = {}
    for delivery_id, url in _due(db):
        parts = urlsplit(url)
        groups.setdefault(f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}", []).append(delivery_id)
    return groups
