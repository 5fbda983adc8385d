"""What a restarted server does about the rooms the previous process was running.

Its recordings are finished from their journals (up to the last flush before the crash), its
stale participants are marked disconnected, and rooms that had media end, so hooks still run.
Rooms nobody was in are opened again, so their unused/empty timeouts still end them. A cluster
node (pipeline/cluster) recovers only the rooms it ran, and does not end them: they go on.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from pipeline.db.models import Participant, Recording, Room
from pipeline.rooms import disconnect_everyone

log = logging.getLogger("roomreel.recording")


def interrupted_rooms(db, node_id: str | None = None) -> tuple[list[str], list[tuple[str, str]]]:
    """In-progress rooms that had people or recordings when the previous process stopped, and
    (account, SID) of the idle ones; in a cluster (`node_id`), only the rooms this node ran."""
    with db.session() as session:
        busy = set(
            session.scalars(select(Participant.room_sid).where(Participant.status == "connected").distinct())
        ) | set(
            session.scalars(select(Recording.room_sid).where(Recording.status == "processing").distinct())
        )
        query = select(Room.sid, Room.account_sid).where(Room.status == "in-progress")
        if node_id is not None:
            query = query.where(Room.node_id == node_id)
        rows = session.execute(query).all()
        return [sid for sid, _ in rows if sid in busy], [
            (account, sid) for sid, account in rows if sid not in busy
        ]


def forget_participants(db, room_sid: str) -> str:
    """Marks the room's participants disconnected (their connections died with the process);
    returns the room's account."""
    with db.session() as session:
        room = session.get(Room, room_sid)
        disconnect_everyone(session, room)
        return room.account_sid


async def recover_after_restart(app) -> None:
    sfu, recorder, cluster = app.state.sfu, app.state.recorder, app.state.cluster
    rooms, idle = await asyncio.to_thread(interrupted_rooms, sfu.db, cluster.id if cluster else None)
    # External recorders (ROOMREEL_RECORDER=external) keep their journals on their own hosts.
    inprocess = app.state.services.settings.recorder == "inprocess"
    # A cluster node finishes only the journals it holds: the other nodes' recordings in
    # progress are theirs, live or waiting for their node to come back.
    outcomes = await asyncio.to_thread(recorder.recover, cluster is not None) if inprocess else {}
    if outcomes:
        log.warning("finished %d recordings left by the previous process: %s", len(outcomes), outcomes)
    for room_sid in rooms:
        if room_sid in sfu.rooms:
            continue
        if cluster is not None:
            # A cluster's room goes on under its SID: here when its people reconnect (new
            # recordings for the new span), or its empty-room timeout ends it.
            account_sid = await asyncio.to_thread(forget_participants, sfu.db, room_sid)
            idle.append((account_sid, room_sid))
            continue
        await asyncio.to_thread(recorder.write_manifest, room_sid)
        await sfu.end_room(room_sid)
    for account_sid, room_sid in idle:
        if room_sid not in sfu.rooms:
            try:
                await sfu.open_room(account_sid, room_sid)
            except Exception:  # one room's trouble must not leave the others without timers
                log.exception("could not re-open idle room %s", room_sid)
