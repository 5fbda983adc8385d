"""The actors. Thin: a message carries one id; the database says what to do with it."""

from __future__ import annotations

import logging
import os
from datetime import timedelta

import dramatiq
from sqlalchemy import update

from pipeline.config import Settings
from pipeline.db.models import Composition, Room, utcnow
from pipeline.jobs import split_job
from pipeline.jobs.compose import run_composition
from pipeline.jobs.deliver import backoff, deliver
from pipeline.jobs.reconcile import STALE_AFTER, due_deliveries, ready_compositions, release_stale
from pipeline.logs import configure
from pipeline.priority import JobPriority
from pipeline.rooms import run_hooks as create_hook_compositions

from .broker import make_broker
from .context import context, worker_id

log = logging.getLogger("roomreel.worker")
broker = make_broker(Settings.from_env().broker_url)
dramatiq.set_broker(broker)
SPLITTER = split_job.Splitter()  # workers split long compositions (ROOMREEL_SPLIT_SECONDS, default 600)
if os.environ.get("ROOMREEL_LOG_FORMAT"):
    # dramatiq's worker processes set their own text logging before importing this module.
    configure()

# Retries are ours (attempts in the database), not dramatiq's: a message is a wake-up call.
COMPOSE_OPTIONS = {"queue_name": "compose", "max_retries": 0, "time_limit": 6 * 3600 * 1000}
# After this long without a message, the reconciler sends a job again (its message may be lost).
REDISPATCH_AFTER = timedelta(minutes=2)


def _compose(composition_sid: str) -> None:
    ctx = context()
    outcome = run_composition(
        ctx.db, ctx.storage, composition_sid, worker_id(), ctx.settings.data_dir / "spool", SPLITTER
    )
    if outcome.status == "retry":
        with ctx.db.session() as session:
            attempts = session.get(Composition, composition_sid).attempts
        dispatch_composition(composition_sid, delay=backoff(attempts))


# dramatiq orders a worker's prefetched messages by actor priority: API, then hooks, then batch.
@dramatiq.actor(priority=JobPriority.API.actor_priority, **COMPOSE_OPTIONS)
def compose(composition_sid: str) -> None:
    _compose(composition_sid)


@dramatiq.actor(priority=JobPriority.HOOK.actor_priority, **COMPOSE_OPTIONS)
def compose_hook(composition_sid: str) -> None:
    _compose(composition_sid)


@dramatiq.actor(priority=JobPriority.BATCH.actor_priority, **COMPOSE_OPTIONS)
def compose_batch(composition_sid: str) -> None:
    _compose(composition_sid)


BY_PRIORITY = {JobPriority.API: compose, JobPriority.HOOK: compose_hook, JobPriority.BATCH: compose_batch}
# A split composition's join, then its parts, go before any hook's or batch's whole render: work
# already begun finishes first.
PART_ACTOR_PRIORITY = 5
JOIN_ACTOR_PRIORITY = 1


def dispatch_composition(sid: str, priority: int | None = None, delay: timedelta | None = None) -> None:
    ctx = context()
    with ctx.db.session() as session:
        row = session.get(Composition, sid)
        if row is None:
            return
        priority = row.priority if priority is None else priority
        room = session.get(Room, row.room_sid)
        length = (room.end_time - room.date_created).total_seconds() if room and room.end_time else 3600
        session.execute(update(Composition).where(Composition.sid == sid).values(dispatched_at=utcnow()))
    # A render runs at about 2x realtime on 2 cores; allow 4x the room's length plus set-up.
    time_limit = int((600 + 4 * max(0.0, length)) * 1000)
    actor = BY_PRIORITY.get(priority, compose)
    actor.send_with_options(
        args=(sid,), time_limit=time_limit, delay=int(delay.total_seconds() * 1000) if delay else None
    )


@dramatiq.actor(queue_name="compose", priority=PART_ACTOR_PRIORITY, max_retries=0, time_limit=6 * 3600 * 1000)
def compose_part(composition_sid: str, index: int) -> None:
    """One window (or the audio) of a split composition; the last one done sends the join."""
    ctx = context()
    result = split_job.run_part(
        ctx.db, ctx.storage, composition_sid, index, worker_id(), ctx.settings.data_dir / "spool"
    )
    if result == "done" and split_job.ready_to_join(ctx.db, composition_sid):
        join_composition.send(composition_sid)
    elif result == "retry":
        compose_part.send_with_options(args=(composition_sid, index), delay=5000)


@dramatiq.actor(queue_name="compose", priority=JOIN_ACTOR_PRIORITY, max_retries=0, time_limit=3600 * 1000)
def join_composition(composition_sid: str) -> None:
    ctx = context()
    split_job.join_parts(ctx.db, ctx.storage, composition_sid, worker_id(), ctx.settings.data_dir / "spool")


@dramatiq.actor(queue_name="callbacks", max_retries=0)
def deliver_callback(delivery_id: int) -> None:
    ctx = context()
    if deliver(ctx.db, delivery_id) == "pending":
        from pipeline.db.models import CallbackDelivery

        with ctx.db.session() as session:
            attempts = session.get(CallbackDelivery, delivery_id).attempts
        deliver_callback.send_with_options(
            args=(delivery_id,), delay=int(backoff(attempts).total_seconds() * 1000)
        )


@dramatiq.actor(queue_name="recordings", max_retries=3, min_backoff=5000)
def finalize_recording(recording_sid: str) -> None:
    """Finish a `processing` recording from its journal (on the host whose spool holds it).

    The SFU's own process does this at start-up after a crash; this actor lets an operator or a
    worker on that host do it without a restart. Idempotent: a finished recording is left alone.
    """
    from pipeline.db.models import Recording
    from pipeline.recording.recorder import Recorder

    ctx = context()
    with ctx.db.session() as session:
        row = session.get(Recording, recording_sid)
        if row is None or row.status != "processing":
            return
        room_sid = row.room_sid
        created = session.get(Room, room_sid).date_created.timestamp()
    recorder = Recorder(ctx.db, ctx.storage, ctx.settings.data_dir / "spool" / "recordings")
    if not recorder.journal_path(room_sid, recording_sid).exists():
        # Another host (the SFU's, or an external recorder's) holds the journal: not ours to fail.
        log.warning("recording %s: no journal on this host, left for the host that has it", recording_sid)
        return
    recorder.finish(recording_sid, room_sid, created)


@dramatiq.actor(queue_name="imports", priority=JobPriority.BATCH.actor_priority, max_retries=0,
                time_limit=6 * 3600 * 1000)  # fmt: skip
def import_twilio_room(import_sid: str, room_sid: str) -> None:
    """One room of a queued `roomreel import-twilio --queue` (pipeline/twilio_import/queued.py)."""
    from pipeline.twilio_import import queued

    ctx = context()
    if queued.run_room(ctx.db, ctx.storage, import_sid, room_sid, worker_id()) == "retry":
        import_twilio_room.send_with_options(args=(import_sid, room_sid), delay=30_000)


@dramatiq.actor(queue_name="rooms", max_retries=3)
def run_hooks(room_sid: str) -> None:
    ctx = context()
    with ctx.db.session() as session:
        room = session.get(Room, room_sid)
        created = create_hook_compositions(session, room) if room and room.status != "in-progress" else []
        sids = [c.sid for c in created]
    for sid in sids:
        dispatch_composition(sid, JobPriority.HOOK)


def reconcile(
    redispatch_after: timedelta = REDISPATCH_AFTER, stale_after: timedelta = STALE_AFTER
) -> dict[str, int]:
    """Release dead workers' jobs, and (re-)send every job that has no recent message."""
    ctx = context()
    released = release_stale(ctx.db, stale_after)
    sent = 0
    cutoff = utcnow() - redispatch_after
    for sid, priority in ready_compositions(ctx.db):
        with ctx.db.session() as session:
            at = session.get(Composition, sid).dispatched_at
        if sid in released or at is None or at < cutoff:
            dispatch_composition(sid, priority)
            sent += 1
    split_job.release_stale_parts(ctx.db, utcnow() - stale_after)
    for sid, index in split_job.parts_to_dispatch(ctx.db, cutoff):
        compose_part.send(sid, index)
    for sid in split_job.joins_due(ctx.db):
        join_composition.send(sid)
    deliveries = due_deliveries(ctx.db)
    for delivery_id in deliveries:
        deliver_callback.send(delivery_id)
    from pipeline.twilio_import import queued

    queued.release_stale(ctx.db, stale_after)
    imports = queued.rooms_to_send(ctx.db, silent_since=cutoff)
    for import_sid, room_sid in imports:
        import_twilio_room.send(import_sid, room_sid)
    return {
        "released": len(released),
        "compositions": sent,
        "callbacks": len(deliveries),
        "imports": len(imports),
    }
