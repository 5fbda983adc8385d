"""A composition's lease: a worker claims it, keeps the claim alive with heartbeats while it
renders, and gives it back on a retryable failure. The reconciler takes back claims whose
heartbeat stopped (`reconcile.release_stale`)."""

from __future__ import annotations

import os
import threading

from sqlalchemy import update

from pipeline.db import Database
from pipeline.db.models import Composition, utcnow
from pipeline.rooms import composition_event

HEARTBEAT_SECONDS = 10


def claim(db: Database, sid: str, worker_id: str) -> bool:
    """enqueued -> processing in one statement: two workers never take the same job."""
    with db.session() as session:
        result = session.execute(
            update(Composition)
            .where(Composition.sid == sid, Composition.status == "enqueued")
            .values(
                status="processing",
                worker_id=worker_id,
                heartbeat_at=utcnow(),
                progress=0,
                attempts=Composition.attempts + 1,
            )
        )
        if result.rowcount != 1:
            return False
        composition = session.get(Composition, sid)
        composition_event(session, composition, "composition-started")
        return True


def heartbeat(db: Database, sid: str, worker_id: str) -> bool:
    """Refresh the claim; False when the job is no longer ours (released or finished)."""
    with db.session() as session:
        result = session.execute(
            update(Composition)
            .where(
                Composition.sid == sid, Composition.worker_id == worker_id, Composition.status == "processing"
            )
            .values(heartbeat_at=utcnow())
        )
        return bool(result.rowcount)


class Heartbeat:
    """Keeps a claim alive while a long render runs, so the reconciler knows the worker lives."""

    def __init__(self, db: Database, sid: str, worker_id: str, beat=None) -> None:
        self._stop = threading.Event()
        self._beat = beat or (lambda: heartbeat(db, sid, worker_id))
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"heartbeat-{sid}")

    def _run(self) -> None:
        interval = float(os.environ.get("ROOMREEL_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS))
        while not self._stop.wait(interval):
            try:
                self._beat()
            except Exception:  # a database blip must not kill the render; the next beat retries
                pass

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def release(db: Database, sid: str, worker_id: str) -> None:
    """Give a claimed job back to the queue (a retryable failure)."""
    with db.session() as session:
        session.execute(
            update(Composition)
            .where(
                Composition.sid == sid, Composition.worker_id == worker_id, Composition.status == "processing"
            )
            .values(status="enqueued", worker_id=None)
        )
