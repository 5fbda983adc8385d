"""In-process workers for `roomreel serve` on the embedded defaults (one machine, no broker).

They poll the database, which holds every status, so a restart loses nothing: work left in
`processing` by a dead process is put back to `enqueued` at start-up.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from sqlalchemy import select, update

from pipeline.db import Database
from pipeline.db.models import Composition
from pipeline.jobs.compose import INTERNAL_FAILED, _fail, run_composition
from pipeline.jobs.deliver import deliver
from pipeline.jobs.reconcile import due_deliveries, release_stale
from pipeline.storage import Storage

log = logging.getLogger("roomreel.embedded")


def requeue_orphans(db: Database) -> int:
    with db.session() as session:
        result = session.execute(
            update(Composition)
            .where(Composition.status == "processing")
            .values(status="enqueued", worker_id=None)
        )
        return result.rowcount or 0


def compose_pending(
    db: Database, storage: Storage, worker_id: str = "embedded", spool_dir: Path | None = None
) -> int:
    """Run every composition that is ready, highest priority first; returns how many ran."""
    with db.session() as session:
        sids = session.scalars(
            select(Composition.sid)
            .where(Composition.status == "enqueued")
            .order_by(Composition.priority, Composition.date_created)
        ).all()
    ran = 0
    for sid in sids:
        try:
            outcome = run_composition(db, storage, sid, worker_id, spool_dir)
        except Exception as exc:  # one broken job must not stop the queue
            log.exception("composition %s failed", sid)
            _fail(db, sid, INTERNAL_FAILED, f"internal error: {type(exc).__name__}: {exc}")
            ran += 1
            continue
        ran += outcome.status in ("completed", "failed")
    return ran


def deliver_pending(db: Database) -> int:
    due = due_deliveries(db)
    for delivery_id in due:
        deliver(db, delivery_id)
    return len(due)


class EmbeddedWorkers:
    def __init__(
        self, db: Database, storage: Storage, interval: float = 1.0, spool_dir: Path | None = None
    ) -> None:
        """`spool_dir` keeps rendered files until their upload verifies (ROOMREEL_DATA_DIR/spool)."""
        self.db = db
        self.storage = storage
        self.spool_dir = spool_dir
        self.interval = interval
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, args=(self._compose,), name="embedded-compose", daemon=True),
            threading.Thread(
                target=self._loop,
                args=(lambda: deliver_pending(self.db),),
                name="embedded-callbacks",
                daemon=True,
            ),
        ]

    def _compose(self) -> int:
        release_stale(self.db)  # a render thread that died mid-job stops heartbeating
        return compose_pending(self.db, self.storage, spool_dir=self.spool_dir)

    def _loop(self, step) -> None:
        while not self._stop.is_set():
            try:
                busy = step()
            except Exception:
                log.exception("embedded worker step failed")
                busy = 0
            if not busy:
                self._stop.wait(self.interval)

    def start(self) -> EmbeddedWorkers:
        requeue_orphans(self.db)
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
