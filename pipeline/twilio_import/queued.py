"""`roomreel import-twilio --queue`: an import as one job per room, run by the workers.

The command lists the rooms, copies the account's hooks and settings itself, and writes a
`TwilioImportRun` with one `TwilioImportRoom` per room to copy. Workers claim rooms the way
they claim compositions (enqueued -> processing in one statement, a heartbeat while copying,
released by the reconciler when the heartbeat stops), so any number of workers on any hosts
share a large import, and a dead worker's room is copied again. A room's rows are written in
one transaction (copy.py), so copying it twice never duplicates anything.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from pipeline.db import Database
from pipeline.db.models import TwilioImportRoom, TwilioImportRun, utcnow
from pipeline.jobs.lease import Heartbeat
from pipeline.sids import new_sid
from pipeline.storage import Storage

from .copy import TwilioImport, time_left
from .source import Credentials, SourceError, TwilioSource

log = logging.getLogger("roomreel.import")
MAX_ATTEMPTS = 3
FINAL = ("completed", "failed")


def queue_import(
    copier: TwilioImport,
    credentials: Credentials,
    api_url: str,
    since: datetime | None = None,
    until: datetime | None = None,
    rooms: list[str] | None = None,
) -> tuple[str, int, int]:
    """Writes the import and its room jobs; returns (import SID, rooms queued, rooms already
    imported). The secret is kept until the last room is done, for the workers to read with."""
    copier.hooks_and_settings()
    listed = copier.listed(since, until, rooms)
    sid = new_sid("JI")
    queued = there = 0
    with copier.db.session() as session:
        session.add(
            TwilioImportRun(
                sid=sid,
                account_sid=copier.account_sid,
                api_url=api_url,
                username=credentials.username,
                password=credentials.password,
                source_account_sid=credentials.account_sid,
                concurrency=copier.concurrency,
            )
        )
        session.flush()
        for position, room in enumerate(listed):
            done = copier.imported(room.sid)
            status, error = ("skipped" if done else "enqueued"), None
            if room.status != "completed" and not done:
                status, error = "failed", f"the room is {room.status}"
            session.add(
                TwilioImportRoom(
                    import_sid=sid,
                    room_sid=room.sid,
                    position=position,
                    status=status,
                    not_copied=[list(pair) for pair in copier.left_out(room.sid)] if done else [],
                    error_message=error,
                    date_completed=None if status == "enqueued" else utcnow(),
                )
            )
            queued += status == "enqueued"
            there += status == "skipped"
    _finish_if_done(copier.db, sid)
    return sid, queued, there


def _the_room(import_sid: str, room_sid: str) -> tuple[Any, Any]:
    return TwilioImportRoom.import_sid == import_sid, TwilioImportRoom.room_sid == room_sid


def claim(db: Database, import_sid: str, room_sid: str, worker_id: str) -> bool:
    with db.session() as session:
        result = session.execute(
            update(TwilioImportRoom)
            .where(*_the_room(import_sid, room_sid), TwilioImportRoom.status == "enqueued")
            .values(
                status="processing",
                worker_id=worker_id,
                heartbeat_at=utcnow(),
                attempts=TwilioImportRoom.attempts + 1,
            )
        )
        return result.rowcount == 1


def _heartbeat(db: Database, import_sid: str, room_sid: str, worker_id: str) -> bool:
    with db.session() as session:
        result = session.execute(
            update(TwilioImportRoom)
            .where(
                *_the_room(import_sid, room_sid),
                TwilioImportRoom.worker_id == worker_id,
                TwilioImportRoom.status == "processing",
            )
            .values(heartbeat_at=utcnow())
        )
        return bool(result.rowcount)


def run_room(db: Database, storage: Storage, import_sid: str, room_sid: str, worker_id: str) -> str:
    """Copies one room of a queued import: `completed`, `failed`, `retry` (given back to the
    queue after a passing error) or `skipped` (not this worker's: claimed or done already)."""
    if not claim(db, import_sid, room_sid, worker_id):
        return "skipped"
    with db.session() as session:
        run = session.get(TwilioImportRun, import_sid)
        account_sid, api_url, concurrency = run.account_sid, run.api_url, run.concurrency
        credentials = Credentials(run.username, run.password or "", run.source_account_sid)
        attempts = session.get(TwilioImportRoom, (import_sid, room_sid)).attempts
    status, error = "completed", None
    try:
        copier = TwilioImport(TwilioSource(credentials, api_url), db, storage, account_sid, concurrency)
        with Heartbeat(db, room_sid, worker_id, beat=lambda: _heartbeat(db, import_sid, room_sid, worker_id)):
            summary = copier.run(rooms=[room_sid], account_wide=False)
    except Exception as exc:  # the source or the network: the room is copied whole or not at all
        summary = None
        error = _reason(exc)
        status = "retry" if _passing(exc) and attempts < MAX_ATTEMPTS else "failed"
        log.warning("import %s: room %s: %s (attempt %d)", import_sid, room_sid, error, attempts)
    with db.session() as session:
        row = session.get(TwilioImportRoom, (import_sid, room_sid))
        if row.status != "processing" or row.worker_id != worker_id:
            return "skipped"  # released as stale while we worked; the other copy wins
        if status == "retry":
            row.status, row.worker_id, row.error_message = "enqueued", None, error
            return status
        row.status, row.worker_id, row.date_completed = status, None, utcnow()
        row.error_message = error
        if summary is not None:
            row.recordings, row.compositions, row.bytes = (
                summary.recordings,
                summary.compositions,
                summary.bytes,
            )
            row.not_copied = [list(pair) for pair in summary.not_copied]
    _finish_if_done(db, import_sid)
    return status


def _passing(exc: Exception) -> bool:
    """Errors a later attempt may not meet: the network, or the source answering 5xx/429."""
    from twilio.base.exceptions import TwilioRestException

    if isinstance(exc, TwilioRestException):
        return exc.status >= 500 or exc.status == 429
    return isinstance(exc, OSError | SourceError) or type(exc).__module__.startswith("httpx")


def _reason(exc: Exception) -> str:
    from twilio.base.exceptions import TwilioRestException

    if isinstance(exc, TwilioRestException):
        return f"the source answered {exc.status}: {exc.msg}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _finish_if_done(db: Database, import_sid: str) -> None:
    with db.session() as session:
        left = session.scalar(
            select(TwilioImportRoom.room_sid).where(
                TwilioImportRoom.import_sid == import_sid,
                TwilioImportRoom.status.in_(("enqueued", "processing")),
            )
        )
        if left is None:
            session.execute(
                update(TwilioImportRun)
                .where(TwilioImportRun.sid == import_sid, TwilioImportRun.status != "completed")
                .values(status="completed", password=None, date_completed=utcnow())
            )


def release_stale(db: Database, stale_after: timedelta) -> list[tuple[str, str]]:
    """processing -> enqueued for rooms whose worker stopped heartbeating (it died)."""
    cutoff = utcnow() - stale_after
    with db.session() as session:
        rows = session.execute(
            select(TwilioImportRoom.import_sid, TwilioImportRoom.room_sid).where(
                TwilioImportRoom.status == "processing",
                or_(TwilioImportRoom.heartbeat_at.is_(None), TwilioImportRoom.heartbeat_at < cutoff),
            )
        ).all()
        for import_sid, room_sid in rows:
            session.execute(
                update(TwilioImportRoom)
                .where(*_the_room(import_sid, room_sid), TwilioImportRoom.status == "processing")
                .values(status="enqueued", worker_id=None, dispatched_at=None)
            )
    return [(i, r) for i, r in rows]


def rooms_to_send(
    db: Database, silent_since: datetime | None = None, import_sid: str | None = None
) -> list[tuple[str, str]]:
    """Enqueued rooms, in their import's order; with `silent_since`, only those with no message
    sent since then (the reconciler's re-send), each marked as sent now."""
    with db.session() as session:
        query = select(TwilioImportRoom).where(TwilioImportRoom.status == "enqueued")
        if import_sid is not None:
            query = query.where(TwilioImportRoom.import_sid == import_sid)
        if silent_since is not None:
            query = query.where(
                or_(TwilioImportRoom.dispatched_at.is_(None), TwilioImportRoom.dispatched_at < silent_since)
            )
        rows = session.scalars(query.order_by(TwilioImportRoom.import_sid, TwilioImportRoom.position)).all()
        now = utcnow()
        for row in rows:
            row.dispatched_at = now
        return [(row.import_sid, row.room_sid) for row in rows]


@dataclass
class Progress:
    status: str
    rooms: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    processing: int = 0
    recordings: int = 0
    compositions: int = 0
    bytes: int = 0
    started: datetime | None = None
    not_copied: list[tuple[str, str]] = field(default_factory=list)

    def line(self) -> str:
        left = self.rooms - self.done - self.skipped - self.failed
        text = (
            f"rooms {self.done + self.skipped + self.failed}/{self.rooms} ({self.processing} copying), "
            f"{self.recordings} recordings, {self.bytes / 1e6:.1f} MB"
        )
        if self.started:
            text += time_left((utcnow() - self.started).total_seconds(), self.done, left)
        return text


def progress(db: Database, import_sid: str) -> Progress | None:
    with db.session() as session:
        run = session.get(TwilioImportRun, import_sid)
        if run is None:
            return None
        found = Progress(run.status, started=run.date_created)
        for row in session.scalars(
            select(TwilioImportRoom)
            .where(TwilioImportRoom.import_sid == import_sid)
            .order_by(TwilioImportRoom.position)
        ):
            found.rooms += 1
            found.done += row.status == "completed"
            found.skipped += row.status == "skipped"
            found.failed += row.status == "failed"
            found.processing += row.status == "processing"
            found.recordings += row.recordings
            found.compositions += row.compositions
            found.bytes += row.bytes
            found.not_copied += [(sid, why) for sid, why in row.not_copied]
            if row.status == "failed":
                found.not_copied.append((row.room_sid, row.error_message or "the room was not copied"))
        return found


def summary_lines(found: Progress, hooks: int = 0) -> list[str]:
    lines = [
        f"imported {found.done} rooms ({found.skipped} already there), {found.recordings} recordings, "
        f"{found.compositions} compositions, {hooks} hooks, {found.bytes / 1e6:.1f} MB"
    ]
    lines += [f"not copied: {sid}: {why}" for sid, why in found.not_copied]
    return lines
