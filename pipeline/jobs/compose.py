"""Run one composition: claim it, fetch its recordings, render, upload, record the outcome."""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update

import layouts
from pipeline.compose import ComposeError, render
from pipeline.db import Database
from pipeline.db.models import Composition, Recording, Room, utcnow
from pipeline.media.manifest import load_manifest
from pipeline.rooms import composition_event
from pipeline.storage import Storage

LAYOUT_FAILED = 53501
MEDIA_FAILED = 53502
INTERNAL_FAILED = 53503
PROGRESS_STEP = 5  # percent


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


def _room_data(db: Database, composition: Composition) -> tuple[dict, dict[str, str]]:
    """The room manifest of the room's available recordings, from the database, and their storage keys."""
    with db.session() as session:
        room = session.get(Room, composition.room_sid)
        rows = session.scalars(
            select(Recording).where(
                Recording.room_sid == composition.room_sid, Recording.status == "completed"
            )
        ).all()
        recordings = [
            {
                "sid": r.sid,
                "track_sid": r.source_sid,
                "track_name": r.track_name,
                "kind": r.type,
                "codec": r.codec,
                "container_format": r.container_format,
                "participant_sid": r.participant_sid,
                "start": r.start,
                "end": r.end,
                "offset": r.offset,
                "media": f"{r.sid}.{r.container_format or 'mkv'}",
                "width": r.width,
                "height": r.height,
                "events": r.events or [],
            }
            for r in rows
        ]
        data = {
            "room_sid": room.sid,
            "unique_name": room.unique_name,
            "created_at": room.date_created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ended_at": room.end_time.strftime("%Y-%m-%dT%H:%M:%SZ") if room.end_time else None,
            "recordings": recordings,
        }
        return data, {r.sid: r.media_key for r in rows if r.media_key}


def _fail(db: Database, sid: str, code: int, message: str) -> Outcome:
    with db.session() as session:
        composition = session.get(Composition, sid)
        composition.status = "failed"
        composition.error_code = code
        composition.error_message = message
        composition_event(session, composition, "composition-failed", ErrorCode=code, ErrorMessage=message)
    return Outcome("failed", message)


def run_composition(db: Database, storage: Storage, sid: str, worker_id: str = "embedded") -> Outcome:
    if not ready(db, sid):
        with db.session() as session:
            composition = session.get(Composition, sid)
            status = composition.status if composition else "missing"
        return Outcome("waiting" if status == "enqueued" else "skipped", status)
    if not claim(db, sid, worker_id):
        return Outcome("skipped", "claimed by another worker")
    with db.session() as session:
        composition = session.get(Composition, sid)
    data, keys = _room_data(db, composition)
    try:
        plan = layouts.plan_for_manifest(
            data,
            composition.video_layout or None,
            composition.resolution,
            composition.audio_sources,
            composition.audio_sources_excluded,
            composition.trim,
        )
    except layouts.LayoutError as exc:
        return _fail(db, sid, LAYOUT_FAILED, str(exc))
    with tempfile.TemporaryDirectory(prefix=f"roomreel-{sid}-") as tmp:
        directory = Path(tmp)
        used = {t.source for seg in plan.segments for t in seg.tiles} | {a.source for a in plan.audio}
        (directory / "room").mkdir()
        for rec in data["recordings"]:
            if rec["sid"] in used and rec["sid"] in keys:
                storage.get_file(keys[rec["sid"]], directory / "room" / rec["media"])
        (directory / "room" / "room.json").write_text(json.dumps(data))
        manifest = load_manifest(directory / "room")
        out = directory / f"{sid}.{composition.format}"
        reported = {"percent": 0, "at": time.monotonic()}
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

        try:
            report = render(manifest, plan, out, composition.format, progress=progress)
        except ComposeError as exc:
            return _fail(db, sid, MEDIA_FAILED, str(exc))
        key = f"compositions/{composition.account_sid}/{sid}.{composition.format}"
        size = storage.put_file(key, out)
    with db.session() as session:
        row = session.get(Composition, sid)
        row.status = "completed"
        row.progress = 100
        row.size = size
        row.duration = max(1, round(report.duration))
        row.bitrate = int(size * 8 / report.duration / 1000) if report.duration else 0
        row.media_key = key
        row.media_external_location = storage.location(key)
        row.date_completed = utcnow()
        composition_event(
            session,
            row,
            "composition-available",
            MediaUri=f"/v1/Compositions/{sid}/Media",
            Duration=row.duration,
            Size=size,
        )
    return Outcome("completed")
