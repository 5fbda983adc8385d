"""What a restarted server does about the rooms the previous process was running.

Its recordings are finished from their journals (up to the last flush before the crash), its
stale participants are marked disconnected, and rooms that had media end, so hooks still run.
Rooms nobody was in are opened again, so their unused/empty timeouts still end them.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from pipeline.db.models import Participant, Recording, Room

log = logging.getLogger("roomreel.recording")


def interrupted_rooms(db) -> tuple[list[str], list[tuple[str, str]]]:
    """In-progress rooms that had people or recordings when the previous process stopped, and
    (account, SID) of the idle ones."""
    with db.session() as session:
        busy = set(
            session.scalars(select(Participant.room_sid).where(Participant.status == "connected").distinct())
        ) | set(
            session.scalars(select(Recording.room_sid).where(Recording.status == "processing").distinct())
        )
        rows = session.execute(select(Room.sid, Room.account_sid).where(Room.status == "in-progress")).all()
        return [sid for sid, _ in rows if sid in busy], [
            (account, sid) for sid, account in rows if sid not in busy
        ]


async def recover_after_restart(app) -> None:
    sfu, recorder = app.state.sfu, app.state.recorder
    rooms, idle = await asyncio.to_thread(interrupted_rooms, sfu.db)
    # External recorders (ROOMREEL_RECORDER=external) keep their journals on their own hosts.
    inprocess = app.state.services.settings.recorder == "inprocess"
    outcomes = await asyncio.to_thread(recorder.recover) if inprocess else {}
    if outcomes:
        log.warning("finished %d recordings left by the previous process: %s", len(outcomes), outcomes)
    for room_sid in rooms:
        if room_sid not in sfu.rooms:
            await asyncio.to_thread(recorder.write_manifest, room_sid)
            await sfu.end_room(room_sid)
    for account_sid, room_sid in idle:
        if room_sid not in sfu.rooms:
            try:
                await sfu.open_room(account_sid, room_sid)
            except Exception:  # one room's trouble must not leave the others without timers
                log.exception("could not re-open idle room %s", room_sid)
