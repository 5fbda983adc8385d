"""Batch reprocessing: one composition per selected room, with the same parameters, resumable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

import layouts
from pipeline.db import Database
from pipeline.db.models import Composition, CompositionHook, Room
from pipeline.priority import JobPriority
from pipeline.rooms import composition_event
from pipeline.sids import new_sid

SPEC_FIELDS = ("video_layout", "audio_sources", "audio_sources_excluded", "resolution", "format", "trim")


class ReprocessError(ValueError):
    pass


def spec_from_hook(db: Database, account_sid: str, hook_sid: str) -> dict[str, Any]:
    with db.session() as session:
        hook = session.get(CompositionHook, hook_sid)
        if hook is None or hook.account_sid != account_sid:
            raise ReprocessError(f"no composition hook {hook_sid}")
        spec = {f: getattr(hook, f) for f in SPEC_FIELDS}
        spec["status_callback"], spec["status_callback_method"] = (
            hook.status_callback,
            hook.status_callback_method,
        )
        return spec


def spec_from_args(
    layout: str | None,
    audio_sources: Sequence[str],
    audio_sources_excluded: Sequence[str],
    resolution: str | None,
    fmt: str,
    trim: bool,
) -> dict[str, Any]:
    res = layouts.parse_resolution(resolution)
    regions = layouts.load_layout(layout, res) if layout else []
    if not regions and not audio_sources:
        raise ReprocessError("give --layout, --audio-sources or --hook")
    return {
        "video_layout": layouts.echo_layout(regions),
        "audio_sources": list(audio_sources),
        "audio_sources_excluded": list(audio_sources_excluded),
        "resolution": str(res),
        "format": fmt,
        "trim": trim,
        "status_callback": None,
        "status_callback_method": "POST",
    }


def select_rooms(
    db: Database,
    account_sid: str,
    rooms: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    every: bool = False,
) -> list[str]:
    if not rooms and not since and not until and not every:
        raise ReprocessError("select rooms with --room, --since/--until or --all")
    query = select(Room.sid).where(Room.account_sid == account_sid, Room.status == "completed")
    if rooms:
        query = query.where(Room.sid.in_(list(rooms)))
    if since:
        query = query.where(Room.date_created >= since)
    if until:
        query = query.where(Room.date_created < until)
    with db.session() as session:
        found = list(session.scalars(query.order_by(Room.date_created, Room.sid)))
    missing = set(rooms) - set(found)
    if missing:
        raise ReprocessError(f"no completed room {sorted(missing)[0]}")
    return found


def _same(composition: Composition, spec: dict[str, Any]) -> bool:
    return all(getattr(composition, f) == spec[f] for f in SPEC_FIELDS)


@dataclass
class Planned:
    room_sid: str
    composition_sid: str
    created: bool


def ensure_compositions(
    db: Database, account_sid: str, room_sids: Sequence[str], spec: dict[str, Any], force: bool = False
) -> list[Planned]:
    """Reuse a room's composition with the same parameters (unless failed, deleted or --force)."""
    planned = []
    with db.session() as session:
        for room_sid in room_sids:
            existing = None
            if not force:
                for c in session.scalars(
                    select(Composition)
                    .where(Composition.room_sid == room_sid)
                    .order_by(Composition.date_created.desc())
                ):
                    if c.status in ("enqueued", "processing", "completed") and _same(c, spec):
                        existing = c
                        break
            if existing:
                planned.append(Planned(room_sid, existing.sid, False))
                continue
            composition = Composition(
                sid=new_sid("CJ"),
                account_sid=account_sid,
                room_sid=room_sid,
                priority=JobPriority.BATCH,
                **spec,
            )
            session.add(composition)
            composition_event(session, composition, "composition-enqueued")
            planned.append(Planned(room_sid, composition.sid, True))
    return planned


def statuses(db: Database, sids: Sequence[str]) -> dict[str, tuple[str, int, str | None]]:
    with db.session() as session:
        rows = session.execute(
            select(
                Composition.sid, Composition.status, Composition.progress, Composition.error_message
            ).where(Composition.sid.in_(list(sids)))
        ).all()
    return {sid: (status, progress, error) for sid, status, progress, error in rows}
