"""The API's dispatcher when a broker is configured: send a message as soon as work exists."""

from __future__ import annotations

import logging

from sqlalchemy import update

from pipeline.db import Database
from pipeline.db.models import Composition
from pipeline.priority import JobPriority

log = logging.getLogger("roomreel.dispatch")


class DramatiqDispatcher:
    def __init__(self, db: Database) -> None:
        self.db = db

    def composition(self, sid: str, priority: int = JobPriority.API) -> None:
        from workers.actors import dispatch_composition

        try:
            dispatch_composition(sid, priority)
        except Exception as exc:
            # The job is in the database, `enqueued`: the request that made it still succeeds,
            # and with no message on record the reconciler sends it on its first tick after the
            # broker is back.
            with self.db.session() as session:
                session.execute(update(Composition).where(Composition.sid == sid).values(dispatched_at=None))
            text = str(exc).splitlines()[0] if str(exc) else ""
            log.warning("composition %s waits in the database: the broker did not take it (%s: %s)",
                        sid, type(exc).__name__, text)  # fmt: skip
