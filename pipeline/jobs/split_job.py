"""Split rendering across workers: parts (video windows and the audio) are jobs of their own,
claimed and heartbeated like compositions; the last part to finish triggers the join."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from sqlalchemy import delete, select, update

from pipeline.compose import ComposeError
from pipeline.compose.split import join, plan_windows, render_audio, render_window
from pipeline.db import Database
from pipeline.db.models import Composition, CompositionPart, utcnow
from pipeline.error_codes import MEDIA_FAILED, UPLOAD_FAILED
from pipeline.metrics import JOB_SECONDS, JOBS, REALTIME_FACTOR
from pipeline.storage import Storage, StorageError

from .compose import (
    MAX_ATTEMPTS,
    Outcome,
    _fail,
    composition_plan,
    fetch_media,
    publish,
    spool_path,
    work_dir,
)
from .lease import Heartbeat

AUDIO = -1
SPLIT_MARK = "split"


class Splitter:
    """Given to `run_composition` by the dramatiq workers: compositions longer than `seconds` split."""

    def __init__(self, seconds: float | None = None, window: float | None = None, fps: int = 30) -> None:
        self.seconds = (
            seconds if seconds is not None else float(os.environ.get("ROOMREEL_SPLIT_SECONDS", 600))
        )
        self.window = window if window is not None else float(os.environ.get("ROOMREEL_SPLIT_WINDOW", 300))
        self.fps = fps

    def should_split(self, plan) -> bool:
        return plan.has_video and plan.duration > self.seconds

    def split(self, db: Database, composition: Composition, plan) -> list[int]:
        windows = plan_windows(plan, self.fps, self.window)
        with db.session() as session:
            session.execute(delete(CompositionPart).where(CompositionPart.composition_sid == composition.sid))
            for w in windows:
                session.add(
                    CompositionPart(composition_sid=composition.sid, index=w.index, start=w.start, end=w.end)
                )
            if plan.audio:
                session.add(
                    CompositionPart(
                        composition_sid=composition.sid, index=AUDIO, start=0.0, end=plan.duration
                    )
                )
            row = session.get(Composition, composition.sid)
            row.worker_id = SPLIT_MARK
            row.heartbeat_at = utcnow()
        return parts(db, composition.sid)


def parts(db: Database, sid: str, status: str | None = None) -> list[int]:
    with db.session() as session:
        query = select(CompositionPart.index).where(CompositionPart.composition_sid == sid)
        if status:
            query = query.where(CompositionPart.status == status)
        return list(session.scalars(query.order_by(CompositionPart.index)))


def _claim(db: Database, sid: str, index: int, worker_id: str) -> bool:
    with db.session() as session:
        result = session.execute(
            update(CompositionPart)
            .where(
                CompositionPart.composition_sid == sid,
                CompositionPart.index == index,
                CompositionPart.status == "enqueued",
            )
            .values(
                status="processing",
                worker_id=worker_id,
                heartbeat_at=utcnow(),
                attempts=CompositionPart.attempts + 1,
            )
        )
        return result.rowcount == 1


def _set(db: Database, sid: str, index: int, **values) -> None:
    with db.session() as session:
        session.execute(
            update(CompositionPart)
            .where(CompositionPart.composition_sid == sid, CompositionPart.index == index)
            .values(**values)
        )


def run_part(
    db: Database, storage: Storage, sid: str, index: int, worker_id: str, spool_dir: Path | None = None
) -> str:
    """Render and upload one part; returns done, skipped, retry or failed."""
    if not _claim(db, sid, index, worker_id):
        return "skipped"
    started = time.monotonic()
    result = _run_part(db, storage, sid, index, worker_id, spool_dir)
    JOBS.labels("composition-part", result).inc()
    JOB_SECONDS.labels("composition-part").observe(time.monotonic() - started)
    return result


def _run_part(
    db: Database, storage: Storage, sid: str, index: int, worker_id: str, spool_dir: Path | None
) -> str:
    with db.session() as session:
        composition = session.get(Composition, sid)
        part = session.get(CompositionPart, (sid, index))
    fmt = composition.format
    try:
        plan, data, keys = composition_plan(db, composition, storage)
        beat = Heartbeat(db, sid, worker_id, lambda: _set(db, sid, index, heartbeat_at=utcnow()))
        with work_dir(spool_dir, f"{sid}-{index}") as directory, beat:
            manifest = fetch_media(storage, plan, data, keys, directory)
            out = directory / f"part.{fmt}"
            rendering = time.monotonic()
            if index == AUDIO:
                render_audio(manifest, plan, out, fmt)
            else:
                from pipeline.compose.split import Window

                render_window(manifest, plan, Window(index, part.start, part.end), out, fmt)
                REALTIME_FACTOR.observe((part.end - part.start) / max(1e-3, time.monotonic() - rendering))
            key = f"parts/{sid}/{index}.{fmt}"
            storage.put_file(key, out)
    except ComposeError as exc:
        _fail(db, sid, MEDIA_FAILED, str(exc))
        _set(db, sid, index, status="failed")
        return "failed"
    except (StorageError, OSError) as exc:
        if part.attempts + 1 >= MAX_ATTEMPTS:
            _fail(db, sid, UPLOAD_FAILED, f"part {index} gave up: {exc}")
            _set(db, sid, index, status="failed")
            return "failed"
        _set(db, sid, index, status="enqueued", worker_id=None)
        return "retry"
    _set(db, sid, index, status="done", media_key=key, worker_id=None)
    _progress(db, sid)
    return "done"


def _progress(db: Database, sid: str) -> None:
    done, total = len(parts(db, sid, "done")), len(parts(db, sid))
    with db.session() as session:
        row = session.get(Composition, sid)
        row.progress = int(95 * done / total) if total else 0
        row.heartbeat_at = utcnow()
        from pipeline.rooms import composition_event

        # The rate so far since the split was queued: the parts run side by side.
        since = row.dispatched_at or row.date_created
        elapsed = (row.heartbeat_at - since).total_seconds() if since else 0
        remaining = round(elapsed * (100 - row.progress) / row.progress) if row.progress else None
        composition_event(
            session,
            row,
            "composition-progress",
            PercentageDone=row.progress,
            SecondsRemaining=remaining,
            PartsDone=done,
            PartsTotal=total,
        )


def ready_to_join(db: Database, sid: str) -> bool:
    every = parts(db, sid)
    return bool(every) and len(parts(db, sid, "done")) == len(every)


def join_parts(
    db: Database, storage: Storage, sid: str, worker_id: str, spool_dir: Path | None = None
) -> Outcome:
    """Claim the join (split -> join:<worker>), stream-copy the parts, publish, clean up."""
    if not ready_to_join(db, sid):
        return Outcome("waiting")
    with db.session() as session:
        claimed = session.execute(
            update(Composition)
            .where(
                Composition.sid == sid,
                Composition.status == "processing",
                Composition.worker_id == SPLIT_MARK,
            )
            .values(worker_id=f"join:{worker_id}", heartbeat_at=utcnow())
        ).rowcount
        composition = session.get(Composition, sid)
        rows = list(
            session.scalars(
                select(CompositionPart)
                .where(CompositionPart.composition_sid == sid)
                .order_by(CompositionPart.index)
            )
        )
    if claimed != 1:
        return Outcome("skipped")
    # The join and its upload can outlast the reconciler's stale limit: keep the claim alive.
    with Heartbeat(db, sid, f"join:{worker_id}"):
        fmt = composition.format
        spooled = spool_path(spool_dir, sid, fmt)
        with work_dir(spool_dir, f"{sid}-join") as directory:
            videos, audio = [], None
            for part in rows:
                local = storage.get_file(part.media_key, directory / f"{part.index}.{fmt}")
                if part.index == AUDIO:
                    audio = local
                else:
                    videos.append((local, part.start))
            out = join(videos, audio, directory / f"joined.{fmt}", fmt)
            shutil.move(out, spooled)
        duration = max(p.end for p in rows)
        outcome = publish(db, storage, composition, spooled, duration)
    for part in rows:
        try:
            storage.delete(part.media_key)
        except StorageError:
            pass
    with db.session() as session:
        session.execute(delete(CompositionPart).where(CompositionPart.composition_sid == sid))
    return outcome


def release_stale_parts(db: Database, cutoff) -> int:
    with db.session() as session:
        result = session.execute(
            update(CompositionPart)
            .where(CompositionPart.status == "processing", CompositionPart.heartbeat_at < cutoff)
            .values(status="enqueued", worker_id=None)
        )
        return result.rowcount or 0


def parts_to_dispatch(db: Database, cutoff) -> list[tuple[str, int]]:
    """Enqueued parts not sent since `cutoff`; marks them sent now."""
    with db.session() as session:
        rows = list(session.scalars(select(CompositionPart).where(CompositionPart.status == "enqueued")))
        due = []
        for part in rows:
            if part.heartbeat_at is None or part.heartbeat_at < cutoff:
                part.heartbeat_at = utcnow()
                due.append((part.composition_sid, part.index))
        return due


def joins_due(db: Database) -> list[str]:
    with db.session() as session:
        sids = list(
            session.scalars(
                select(Composition.sid).where(
                    Composition.status == "processing", Composition.worker_id == SPLIT_MARK
                )
            )
        )
    return [sid for sid in sids if ready_to_join(db, sid)]
