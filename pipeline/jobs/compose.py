"""Run one composition: claim it, fetch its recordings, render, upload, record the outcome."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

import layouts
from pipeline.compose import ComposeError, render
from pipeline.db import Database
from pipeline.db.models import Composition, Recording, Room, utcnow
from pipeline.error_codes import INTERNAL_FAILED, LAYOUT_FAILED, MEDIA_FAILED, UPLOAD_FAILED
from pipeline.logs import log_context
from pipeline.media.level_meter import audio_recordings, measure
from pipeline.media.levels import LevelsError, LevelTimeline, levels_key, levels_name
from pipeline.media.manifest import load_manifest
from pipeline.media.speech import room_speech
from pipeline.metrics import JOB_SECONDS, JOBS, REALTIME_FACTOR
from pipeline.rooms import composition_event, manifest_data
from pipeline.storage import Storage, StorageError
from pipeline.storage.external import CustomerStorageRefused, customer_storage_for

from .lease import Heartbeat, claim, release

if TYPE_CHECKING:
    from .split_job import Splitter

MAX_ATTEMPTS = 5
PROGRESS_STEP = 5  # percent

log = logging.getLogger("roomreel.compose")


@dataclass
class Outcome:
    status: str  # waiting | skipped | completed | failed
    detail: str = ""


def ready(db: Database, sid: str) -> bool:
    """A composition may start once its room is over and no recording is still being written."""
    with db.session() as session:
        composition = session.get(Composition, sid)
        if composition is None or composition.status != "enqueued":
            return False
        room = session.get(Room, composition.room_sid)
        if room is None or room.status == "in-progress":
            return False
        busy = session.scalars(
            select(Recording.sid).where(Recording.room_sid == room.sid, Recording.status == "processing")
        ).first()
        return busy is None


def _room_data(db: Database, composition: Composition) -> tuple[dict, dict[str, str]]:
    """The room manifest of the room's available recordings, from the database, and their storage keys."""
    with db.session() as session:
        return manifest_data(session, session.get(Room, composition.room_sid))


def _fail(db: Database, sid: str, code: int, message: str) -> Outcome:
    with db.session() as session:
        composition = session.get(Composition, sid)
        composition.status = "failed"
        composition.error_code = code
        composition.error_message = message
        composition_event(session, composition, "composition-failed", ErrorCode=code, ErrorMessage=message)
    return Outcome("failed", message)


def spool_path(spool_dir: Path | None, sid: str, fmt: str) -> Path:
    """Where a rendered file waits for its verified upload; it survives a failed upload for the retry."""
    directory = spool_dir or Path(tempfile.gettempdir()) / "roomreel-spool"
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{sid}.{fmt}"


@contextmanager
def work_dir(spool_dir: Path | None, sid: str):
    """A scratch directory per job, emptied first: a worker killed mid-render leaves nothing behind
    that the next attempt does not sweep up."""
    base = (spool_dir or Path(tempfile.gettempdir()) / "roomreel-spool").parent / "work"
    directory = base / sid
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def run_composition(
    db: Database,
    storage: Storage,
    sid: str,
    worker_id: str = "embedded",
    spool_dir: Path | None = None,
    splitter: Splitter | None = None,
) -> Outcome:
    """One attempt. Retryable failures (storage down, a crash of ours) give the job back until
    MAX_ATTEMPTS; bad input fails the composition at once with the reason. With a `splitter`
    (the dramatiq workers pass one), a long composition is split into parts instead of rendered
    here (pipeline.jobs.split_job)."""
    started = time.monotonic()
    with log_context(composition_sid=sid):
        outcome = _run_composition(db, storage, sid, worker_id, spool_dir, splitter)
        if outcome.status not in ("waiting", "skipped"):
            JOBS.labels("composition", outcome.status).inc()
            JOB_SECONDS.labels("composition").observe(time.monotonic() - started)
            level = logging.WARNING if outcome.status in ("failed", "retry") else logging.INFO
            log.log(level, "composition %s on %s: %s", outcome.status, worker_id, outcome.detail or "ok")
    return outcome


def _run_composition(
    db: Database,
    storage: Storage,
    sid: str,
    worker_id: str,
    spool_dir: Path | None,
    splitter: Splitter | None,
) -> Outcome:
    if not ready(db, sid):
        with db.session() as session:
            composition = session.get(Composition, sid)
            status = composition.status if composition else "missing"
        return Outcome("waiting" if status == "enqueued" else "skipped", status)
    if not claim(db, sid, worker_id):
        return Outcome("skipped", "claimed by another worker")
    with db.session() as session:
        composition = session.get(Composition, sid)
    try:
        with log_context(room_sid=composition.room_sid):
            log.info("composition started on %s (attempt %d)", worker_id, composition.attempts)
            return _attempt(db, storage, composition, worker_id, spool_dir, splitter)
    except CustomerStorageRefused as exc:
        return _fail(db, sid, UPLOAD_FAILED, str(exc))
    except (StorageError, OSError, SQLAlchemyError) as exc:
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if composition.attempts >= MAX_ATTEMPTS:
            return _fail(
                db,
                sid,
                UPLOAD_FAILED if isinstance(exc, StorageError) else INTERNAL_FAILED,
                f"gave up after {composition.attempts} attempts: {reason}",
            )
        release(db, sid, worker_id)
        return Outcome("retry", reason)


def composition_plan(
    db: Database, composition: Composition, storage: Storage | None = None
) -> tuple[layouts.Plan, dict, dict[str, str]]:
    """The plan, the room manifest data and the media keys; raises LayoutError. A layout with an
    active-speaker region is planned with the room's speech, from the levels in `storage`."""
    data, keys = _room_data(db, composition)
    speech = None
    if storage is not None and composition.video_layout:
        regions = layouts.load_layout(
            composition.video_layout, layouts.parse_resolution(composition.resolution)
        )
        if layouts.uses_active_speaker(regions):
            speech = room_speech(data["recordings"], stored_levels(storage, data, keys))
    plan = layouts.plan_for_manifest(
        data,
        composition.video_layout or None,
        composition.resolution,
        composition.audio_sources,
        composition.audio_sources_excluded,
        composition.trim,
        speech=speech,
    )
    return plan, data, keys


def stored_levels(
    storage: Storage, data: dict, keys: dict[str, str], compute: bool = True
) -> dict[str, LevelTimeline]:
    """Each audio recording's level timeline from storage (`levels_key`); one that is missing is
    computed from the recording's media once and uploaded there, so the next composition reuses it
    (with `compute` false it is left out). Media that cannot be decoded is left out (the render's
    probe reports it)."""
    found: dict[str, LevelTimeline] = {}
    room_sid = str(data.get("room_sid", ""))
    with tempfile.TemporaryDirectory(prefix="roomreel-levels-") as tmp:
        for rec in audio_recordings(data["recordings"]):
            sid = str(rec["sid"])
            key = levels_key(room_sid, sid)
            local = Path(tmp) / levels_name(sid)
            if storage.exists(key):
                try:
                    found[sid] = LevelTimeline.load(storage.get_file(key, local))
                    continue
                except LevelsError as exc:
                    log.warning("recording %s: stored levels unreadable (%s); computing them again", sid, exc)
            if sid not in keys or not compute:
                continue
            media = storage.get_file(keys[sid], Path(tmp) / str(rec["media"]))
            try:
                found[sid] = measure(media)
            except LevelsError as exc:
                log.warning("recording %s: no levels: %s", sid, exc)
                continue
            finally:
                media.unlink(missing_ok=True)
            storage.put_file(key, found[sid].save(local))
    return found


def fetch_media(storage: Storage, plan: layouts.Plan, data: dict, keys: dict[str, str], directory: Path):
    """Download what the plan uses into `directory/room` and load its manifest."""
    used = {t.source for seg in plan.segments for t in seg.tiles} | {a.source for a in plan.audio}
    (directory / "room").mkdir()
    for rec in data["recordings"]:
        if rec["sid"] in used and rec["sid"] in keys:
            storage.get_file(keys[rec["sid"]], directory / "room" / rec["media"])
    (directory / "room" / "room.json").write_text(json.dumps(data))
    return load_manifest(directory / "room")


def _attempt(
    db: Database,
    storage: Storage,
    composition: Composition,
    worker_id: str,
    spool_dir: Path | None,
    splitter: Splitter | None,
) -> Outcome:
    sid = composition.sid
    spooled = spool_path(spool_dir, sid, composition.format)
    if spooled.exists():
        return publish(db, storage, composition, spooled, _probe_duration(spooled))
    try:
        # Under a heartbeat: an active-speaker layout may first measure every audio recording.
        with Heartbeat(db, sid, worker_id):
            plan, data, keys = composition_plan(db, composition, storage)
    except layouts.LayoutError as exc:
        return _fail(db, sid, LAYOUT_FAILED, str(exc))
    if splitter is not None and splitter.should_split(plan):
        splitter.split(db, composition, plan)
        return Outcome("split")
    with work_dir(spool_dir, sid) as directory:
        manifest = fetch_media(storage, plan, data, keys, directory)
        out = directory / f"{sid}.{composition.format}"
        try:
            rendering = time.monotonic()
            with Heartbeat(db, sid, worker_id):
                report = render(manifest, plan, out, composition.format, progress=_progress(db, sid))
            REALTIME_FACTOR.observe(report.duration / max(1e-3, time.monotonic() - rendering))
        except ComposeError as exc:
            return _fail(db, sid, MEDIA_FAILED, str(exc))
        shutil.move(out, spooled)  # a rename when the spool is on the same disk
    return publish(db, storage, composition, spooled, report.duration)


def publish(
    db: Database, storage: Storage, composition: Composition, spooled: Path, duration: float
) -> Outcome:
    """Upload the finished file (verified), then mark the composition completed and call back."""
    sid = composition.sid
    target, key = _destination(
        db, composition, storage, f"compositions/{composition.account_sid}/{sid}.{composition.format}"
    )
    size = target.put_file(key, spooled)
    spooled.unlink(missing_ok=True)  # only now: the upload is verified
    with db.session() as session:
        row = session.get(Composition, sid)
        if row.status != "processing":
            return Outcome("skipped")  # someone else finished it: one composition-available only
        row.status = "completed"
        row.progress = 100
        row.size = size
        row.duration = max(1, round(duration))
        row.bitrate = int(size * 8 / duration / 1000) if duration else 0
        row.media_key = key
        # Twilio's field names the customer's bucket only (CompositionSettings), never roomreel's own.
        row.media_external_location = target.location(key) if target is not storage else None
        row.date_completed = utcnow()
        row.worker_id = None
        composition_event(
            session,
            row,
            "composition-available",
            MediaUri=f"/v1/Compositions/{sid}/Media",
            Duration=row.duration,
            Size=size,
        )
    return Outcome("completed")


def _destination(db: Database, composition: Composition, storage: Storage, key: str) -> tuple[Storage, str]:
    """roomreel's storage, or the customer's bucket when CompositionSettings say so."""
    customer = customer_storage_for(db, composition.account_sid, "composition")
    if customer is None:
        return storage, key
    # Twilio's layout in the customer's bucket: {AccountSid}/{CompositionSid}.{format}
    return customer, f"{composition.account_sid}/{composition.sid}.{composition.format}"


def _progress(db: Database, sid: str):
    reported = {"percent": 0}
    started = time.monotonic()

    def progress(done: float, total: float) -> None:
        percent = int(100 * done / total) if total else 100
        if percent - reported["percent"] < PROGRESS_STEP or percent >= 100:
            return
        reported["percent"] = percent
        elapsed = time.monotonic() - started
        remaining = int(elapsed * (100 - percent) / percent) if percent else None
        with db.session() as session:
            row = session.get(Composition, sid)
            row.progress = percent
            row.heartbeat_at = utcnow()
            composition_event(
                session, row, "composition-progress", PercentageDone=percent, SecondsRemaining=remaining
            )

    return progress


def _probe_duration(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        return (container.duration or 0) / 1_000_000
