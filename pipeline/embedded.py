"""In-process workers for `roomreel serve` on the embedded defaults (one machine, no broker).

They poll the database, which holds every status, so a restart loses nothing: work left in
`processing` by a dead process is put back to `enqueued` at start-up.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import select, update

from pipeline.db import Database
from pipeline.db.models import Composition, TwilioImportRoom
from pipeline.jobs.compose import INTERNAL_FAILED, _fail, run_composition
from pipeline.jobs.deliver import deliver
from pipeline.jobs.reconcile import STALE_AFTER, due_deliveries, due_deliveries_by_origin, release_stale
from pipeline.storage import Storage

log = logging.getLogger("roomreel.embedded")


def requeue_orphans(db: Database) -> int:
    with db.session() as session:
        result = session.execute(
            update(Composition)
            .where(Composition.status == "processing")
            .values(status="enqueued", worker_id=None)
        )
        rooms = session.execute(
            update(TwilioImportRoom)
            .where(TwilioImportRoom.status == "processing")
            .values(status="enqueued", worker_id=None)
        )
        return (result.rowcount or 0) + (rooms.rowcount or 0)


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
    """Sends every due delivery now, one after another, in the calling thread."""
    due = due_deliveries(db)
    for delivery_id in due:
        deliver(db, delivery_id)
    return len(due)


class CallbackLanes:
    """Sends due callbacks with one lane per target origin, so that a target that is slow or
    never answers holds up only its own callbacks, never another customer's."""

    def __init__(self, db: Database, lanes: int = 8) -> None:
        self.db = db
        self._pool = ThreadPoolExecutor(lanes, thread_name_prefix="embedded-callback")
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    def tick(self) -> int:
        """Starts every due delivery whose lane is free; returns how many it started."""
        started = 0
        for origin, ids in due_deliveries_by_origin(self.db).items():
            with self._lock:
                if origin in self._busy:
                    continue
                self._busy.add(origin)
            self._pool.submit(self._run, origin, ids)
            started += len(ids)
        return started

    def _run(self, origin: str, ids: list[int]) -> None:
        try:
            for delivery_id in ids:
                deliver(self.db, delivery_id)
        except Exception:
            log.exception("callback delivery to %s failed", origin)
        finally:
            with self._lock:
                self._busy.discard(origin)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class EmbeddedWorkers:
    def __init__(
        self,
        db: Database,
        storage: Storage,
        interval: float = 1.0,
        spool_dir: Path | None = None,
        node_id: str | None = None,
    ) -> None:
        """`spool_dir` keeps rendered files until their upload verifies (ROOMREEL_DATA_DIR/spool).
        `node_id`: one of a cluster's nodes, which share the queue with the others."""
        self.db = db
        self.node_id = node_id
        self.worker_id = f"embedded-{node_id}" if node_id else "embedded"
        self.storage = storage
        self.spool_dir = spool_dir
        self.interval = interval
        self._stop = threading.Event()
        self.callbacks = CallbackLanes(db)
        self._threads = [
            threading.Thread(target=self._loop, args=(self._compose,), name="embedded-compose", daemon=True),
            threading.Thread(
                target=self._loop,
                args=(self._callbacks,),
                name="embedded-callbacks",
                daemon=True,
            ),
            threading.Thread(target=self._loop, args=(self._imports,), name="embedded-import", daemon=True),
        ]

    def _compose(self) -> int:
        release_stale(self.db)  # a render thread that died mid-job stops heartbeating
        return compose_pending(self.db, self.storage, self.worker_id, spool_dir=self.spool_dir)

    def _imports(self) -> int:
        """Rooms of queued Twilio imports, one at a time (each copies with its own downloads)."""
        from pipeline.twilio_import import queued

        queued.release_stale(self.db, STALE_AFTER)
        ran = 0
        for import_sid, room_sid in queued.rooms_to_send(self.db):
            ran += queued.run_room(self.db, self.storage, import_sid, room_sid, self.worker_id) != "skipped"
            if self._stop.is_set():
                break
        return ran

    def _callbacks(self) -> int:
        self.callbacks.tick()
        return 0  # lanes still sending are skipped until they finish; poll at the interval

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
        if self.node_id is None:
            # Alone, anything `processing` was this process's own. A cluster node must not take
            # back the others' jobs: `release_stale` does, once their heartbeats stop.
            requeue_orphans(self.db)
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self.callbacks.close()
