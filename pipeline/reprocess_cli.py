"""`roomreel reprocess`: enqueue, follow with a live table, summarise; resumable."""

from __future__ import annotations

import os
import socket
import time
from datetime import datetime

from rich.console import Console
from rich.live import Live
from rich.table import Table
from sqlalchemy import select

from pipeline.config import Settings
from pipeline.db import Database
from pipeline.db.models import Composition
from pipeline.jobs.reprocess import (
    ensure_compositions,
    select_rooms,
    spec_from_args,
    spec_from_hook,
    statuses,
)
from pipeline.storage import Storage

FINAL = ("completed", "failed", "deleted")


def _runner_id() -> str:
    return f"reprocess:{socket.gethostname()}:{os.getpid()}"


def _release_dead_runners(db: Database) -> None:
    """An interrupted `reprocess` leaves its current job claimed; give it back if that process is gone."""
    prefix = f"reprocess:{socket.gethostname()}:"
    with db.session() as session:
        for row in session.scalars(
            select(Composition).where(
                Composition.status == "processing", Composition.worker_id.like(prefix + "%")
            )
        ):
            pid = int(row.worker_id.rsplit(":", 1)[1])
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                row.status, row.worker_id = "enqueued", None


def _table(planned, state, started: float) -> Table:
    counts = {"completed": 0, "failed": 0, "processing": 0, "enqueued": 0}
    table = Table(title="reprocessing")
    for column in ("room", "composition", "status", "progress"):
        table.add_column(column)
    for p in planned:
        status, progress, error = state.get(p.composition_sid, ("enqueued", 0, None))
        counts[status] = counts.get(status, 0) + 1
        shown = f"{progress}%" if status == "processing" else (error or "")[:60]
        table.add_row(p.room_sid, p.composition_sid, status, shown)
    done = counts["completed"] + counts["failed"]
    elapsed = time.monotonic() - started
    eta = f"{elapsed / done * (len(planned) - done):.0f}s" if done else "?"
    table.caption = (
        f"done {counts['completed']}  failed {counts['failed']}  running {counts['processing']}  "
        f"queued {counts['enqueued']}  ETA {eta}"
    )
    return table


def run(args, settings: Settings, db: Database, storage: Storage, account_sid: str) -> int:
    console = Console(stderr=True)
    since = datetime.fromisoformat(args.since.replace("Z", "+00:00")) if args.since else None
    until = datetime.fromisoformat(args.until.replace("Z", "+00:00")) if args.until else None
    rooms = select_rooms(db, account_sid, args.room or [], since, until, args.all)
    if args.hook:
        spec = spec_from_hook(db, account_sid, args.hook)
    else:
        spec = spec_from_args(
            args.layout,
            args.audio_sources or [],
            args.audio_sources_excluded or [],
            args.resolution,
            args.format,
            not args.no_trim,
        )
    _release_dead_runners(db)
    planned = ensure_compositions(db, account_sid, rooms, spec, args.force)
    fresh = sum(p.created for p in planned)
    console.print(
        f"{len(rooms)} rooms: {fresh} compositions enqueued, {len(planned) - fresh} reused", soft_wrap=True
    )
    sids = [p.composition_sid for p in planned]
    if settings.broker_url != "memory":
        from workers.actors import dispatch_composition

        for p in planned:
            if p.created:
                dispatch_composition(p.composition_sid)
    started = time.monotonic()
    with Live(_table(planned, statuses(db, sids), started), console=console, refresh_per_second=4) as live:
        while True:
            state = statuses(db, sids)
            live.update(_table(planned, state, started))
            pending = [sid for sid in sids if state.get(sid, ("enqueued",))[0] not in FINAL]
            if not pending:
                break
            if settings.broker_url == "memory":
                from pipeline.jobs.compose import run_composition

                run_composition(db, storage, pending[0], _runner_id(), settings.data_dir / "spool")
            else:
                time.sleep(1)
    state = statuses(db, sids)
    failed = [(sid, state[sid][2]) for sid in sids if state[sid][0] == "failed"]
    completed = sum(1 for sid in sids if state[sid][0] == "completed")
    console.print(
        f"reprocessed {len(sids)} rooms: {completed} completed, {len(failed)} failed", soft_wrap=True
    )
    for sid, error in failed:
        console.print(f"  failed {sid}: {error}", soft_wrap=True, markup=False)
    return 1 if failed else 0
