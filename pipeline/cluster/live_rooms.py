"""What the REST API does to live rooms, wherever they run: here, or through Redis on their node.

On one node every call goes straight to the local forwarding core. In a cluster the room's node
(stored with the room) gets the call as a command; a room whose node is gone has nothing live
left to act on, so the API's database change alone stands.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from . import placement
from .commands import NodeUnreachable

if TYPE_CHECKING:
    from pipeline.sfu import Sfu

    from .node import ClusterNode

log = logging.getLogger("roomreel.cluster")
END_ROOM_TIMEOUT = 180.0  # ending waits for the room's last recording uploads (up to 120 s)


class LiveRooms:
    def __init__(self, sfu: Sfu, cluster: ClusterNode | None = None) -> None:
        self.sfu = sfu
        self.cluster = cluster
        if cluster is not None:
            for op, handler in (
                ("open_room", self._open_here),
                ("end_room", self._end_here),
                ("remove_participant", self._remove_here),
                ("rules_changed", self._rules_here),
                ("subscribe_rules_changed", self._subscribe_rules_here),
                ("subscribed_tracks", self._subscribed_here),
            ):
                cluster.commands.handle(op, handler)

    async def _node(self, room_sid: str) -> str | None:
        """The other node that runs the room, or None when it runs here (or nowhere)."""
        if self.cluster is None:
            return None
        node = await asyncio.to_thread(placement.node_of, self.sfu.db, room_sid)
        return None if node in (None, self.cluster.id) else node

    async def _call(self, room_sid: str, op: str, timeout: float = 10.0, **args: Any) -> tuple[bool, Any]:
        """(True, result) when the room's node took the call; (False, None) when it runs here."""
        node = await self._node(room_sid)
        if node is None:
            return False, None
        assert self.cluster is not None
        try:
            return True, await self.cluster.commands.call(node, op, timeout, room_sid=room_sid, **args)
        except (NodeUnreachable, RedisError, OSError) as exc:
            log.warning("%s on room %s: %s", op, room_sid, exc)
            return True, None

    # -- the API's side -------------------------------------------------------------------------
    async def open_room(self, account_sid: str, room_sid: str) -> None:
        """A room new from the REST API goes live on the least-loaded node, so its
        UnusedRoomTimeout runs even if nobody joins."""
        if self.cluster is not None:
            target = await self.cluster.route(account_sid, room_sid)
            if target is not None:
                await asyncio.to_thread(placement.place, self.sfu.db, room_sid, target.id)
                try:
                    await self.cluster.commands.call(
                        target.id, "open_room", account_sid=account_sid, room_sid=room_sid
                    )
                    return
                except (NodeUnreachable, RedisError, OSError) as exc:
                    log.warning("room %s stays here: %s", room_sid, exc)
        await self.sfu.open_room(account_sid, room_sid)

    async def end_room(self, room_sid: str) -> None:
        relayed, _ = await self._call(room_sid, "end_room", END_ROOM_TIMEOUT)
        if not relayed:
            await self._end_here(room_sid)

    async def remove_participant(self, room_sid: str, participant_sid: str) -> None:
        relayed, _ = await self._call(room_sid, "remove_participant", participant_sid=participant_sid)
        if not relayed:
            await self._remove_here(room_sid, participant_sid)

    async def rules_changed(self, room_sid: str, rules: list[dict[str, Any]]) -> None:
        relayed, _ = await self._call(room_sid, "rules_changed", rules=rules)
        if not relayed:
            await self._rules_here(room_sid, rules)

    async def subscribe_rules_changed(
        self, room_sid: str, participant_sid: str, rules: list[dict[str, Any]]
    ) -> None:
        relayed, _ = await self._call(
            room_sid, "subscribe_rules_changed", participant_sid=participant_sid, rules=rules
        )
        if not relayed:
            await self._subscribe_rules_here(room_sid, participant_sid, rules)

    async def subscribed_tracks(self, room_sid: str, participant_sid: str) -> set[str]:
        relayed, result = await self._call(room_sid, "subscribed_tracks", participant_sid=participant_sid)
        if not relayed:
            result = await self._subscribed_here(room_sid, participant_sid)
        return set(result or ())

    # -- the room's node --------------------------------------------------------------------------
    async def _open_here(self, account_sid: str, room_sid: str) -> None:
        await self.sfu.open_room(account_sid, room_sid)

    async def _end_here(self, room_sid: str) -> None:
        if room_sid in self.sfu.rooms:
            await self.sfu.end_room(room_sid)

    async def _remove_here(self, room_sid: str, participant_sid: str) -> bool:
        return await self.sfu.remove_participant(room_sid, participant_sid)

    async def _rules_here(self, room_sid: str, rules: list[dict[str, Any]]) -> None:
        self.sfu.rules_changed(room_sid, rules)

    async def _subscribe_rules_here(
        self, room_sid: str, participant_sid: str, rules: list[dict[str, Any]]
    ) -> None:
        self.sfu.subscribe_rules_changed(room_sid, participant_sid, rules)

    async def _subscribed_here(self, room_sid: str, participant_sid: str) -> list[str]:
        return sorted(self.sfu.subscribed_tracks(room_sid, participant_sid))
