"""Which node runs a room: chosen by load when the room is new, stored with the room, and claimed
with a compare-and-set so that two nodes can never both run it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update

from pipeline.db import Database
from pipeline.db.models import Room
from pipeline.rooms import disconnect_everyone
from pipeline.sids import is_sid

from .registry import NodeInfo


@dataclass(frozen=True)
class Claim:
    holder: str | None  # the node that runs the room now; None when the room is not in progress
    taken_from: str | None = None  # a dead node this claim took the room over from


def placed_rooms(db: Database) -> dict[str, int]:
    """In-progress rooms per node, from the database: fresher than the nodes' own reports, so
    a burst of room creations spreads instead of all landing on the node that looked idle."""
    with db.session() as session:
        rows = session.execute(
            select(Room.node_id, func.count())
            .where(Room.status == "in-progress", Room.node_id.is_not(None))
            .group_by(Room.node_id)
        ).all()
    return {node_id: count for node_id, count in rows}


def choose(nodes: list[NodeInfo], rooms: dict[str, int], prefer: str) -> NodeInfo | None:
    """The least-loaded node that takes new rooms; `prefer` (this node) wins a tie, which saves a relay."""
    open_nodes = [n for n in nodes if not n.draining]
    if not open_nodes:
        return None

    def load(node: NodeInfo) -> tuple[float, int, str]:
        score = rooms.get(node.id, 0) + node.participants / 4 + node.streams / 20
        return (score, node.id != prefer, node.id)

    return min(open_nodes, key=load)


def room_holder(db: Database, account_sid: str, name: str) -> tuple[str, str | None] | None:
    """(SID, node) of the in-progress room a client names (unique name or SID), or None."""
    with db.session() as session:
        query = select(Room.sid, Room.node_id).where(
            Room.account_sid == account_sid, Room.status == "in-progress"
        )
        query = query.where(Room.sid == name) if is_sid(name, "RM") else query.where(Room.unique_name == name)
        row = session.execute(query).first()
        return (row[0], row[1]) if row else None


def node_of(db: Database, room_sid: str) -> str | None:
    with db.session() as session:
        return session.scalar(select(Room.node_id).where(Room.sid == room_sid))


def holders(db: Database, room_sids: list[str]) -> dict[str, tuple[str | None, str]]:
    """SID -> (node, status) of each room, as the database has them now."""
    with db.session() as session:
        rows = session.execute(
            select(Room.sid, Room.node_id, Room.status).where(Room.sid.in_(room_sids))
        ).all()
    return {sid: (node, status) for sid, node, status in rows}


def place(db: Database, room_sid: str, node_id: str) -> None:
    """Records where a room new from the REST API will run, before that node has opened it."""
    with db.session() as session:
        session.execute(
            update(Room).where(Room.sid == room_sid, Room.node_id.is_(None)).values(node_id=node_id)
        )


def claim(db: Database, room_sid: str, node_id: str, live: set[str]) -> Claim:
    """Makes `node_id` the room's node unless another live node runs it. A room taken over from
    a dead node loses the participants that node had: they were connected to it, not to us."""
    with db.session() as session:
        room = session.get(Room, room_sid)
        if room is None or room.status != "in-progress":
            return Claim(None)
        previous = room.node_id
        if previous == node_id:
            return Claim(node_id)
        if previous is not None and previous in live:
            return Claim(previous)
        won = session.execute(
            update(Room)
            .where(
                Room.sid == room_sid, Room.node_id.is_(None) if previous is None else Room.node_id == previous
            )
            .values(node_id=node_id)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not won:  # another node claimed it between our read and our write
            session.rollback()
            return Claim(session.scalar(select(Room.node_id).where(Room.sid == room_sid)))
        session.refresh(room)
        if previous is not None:
            disconnect_everyone(session, room)
        return Claim(node_id, taken_from=previous)


def orphaned_rooms(db: Database, live: set[str]) -> list[tuple[str, str]]:
    """(account, SID) of in-progress rooms placed on nodes that are gone."""
    with db.session() as session:
        rows = session.execute(
            select(Room.account_sid, Room.sid, Room.node_id).where(
                Room.status == "in-progress", Room.node_id.is_not(None)
            )
        ).all()
    return [(account, sid) for account, sid, node in rows if node not in live]
