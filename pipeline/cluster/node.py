"""This process as a node of the cluster: its entry in the registry, its commands, where rooms go."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from pipeline.db import Database
from pipeline.error_codes import SIGNALING_CONNECTION_ERROR
from pipeline.sfu.access_token import AccessTokenError

from . import placement
from .commands import CommandBus
from .registry import NodeInfo, NodeRegistry
from .settings import ClusterSettings

if TYPE_CHECKING:
    from pipeline.sfu import Sfu

log = logging.getLogger("roomreel.cluster")
UNREACHABLE_FOR = 10.0  # seconds a node that refused a relay is treated as gone


class ClusterNode:
    def __init__(self, settings: ClusterSettings, sfu: Sfu, db: Database, namespace: str) -> None:
        self.settings = settings
        self.sfu = sfu
        self.db = db
        # Named, so that `CLIENT LIST` on the Redis shows which node each connection is.
        self.redis = Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=2,
            health_check_interval=30,
            client_name=f"roomreel-node-{settings.node_id}",
        )
        self.prefix = f"roomreel:{namespace}"
        self.registry = NodeRegistry(self.redis, self.prefix, settings.ttl)
        self.commands = CommandBus(self.redis, self.prefix, settings.node_id)
        self.draining = False
        self.started = time.time()
        # Node id -> (its start time as registered, until when): a node a relay could not reach
        # counts as gone for a while, but only that incarnation of it; a restarted node is live.
        self._unreachable: dict[str, tuple[float, float]] = {}
        self._cpu_mark = (time.monotonic(), time.process_time())
        self._tasks: list[asyncio.Task] = []
        self._background: set[asyncio.Task] = set()
        self.nodes_seen: list[NodeInfo] = []  # the registry at the last heartbeat (for /metrics)
        sfu.node_id = settings.node_id
        sfu.placement = self

    @property
    def id(self) -> str:
        return self.settings.node_id

    # -- life ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Joins the cluster; a Redis that is down only delays that (the node serves meanwhile, as
        a node alone would, and joins at the first heartbeat that reaches Redis)."""
        ready = asyncio.Event()
        self._tasks.append(asyncio.ensure_future(self._serve_commands(ready)))
        try:
            await asyncio.wait_for(ready.wait(), 5)
            await asyncio.wait_for(self.registry.publish(self.info()), 5)
            log.info("cluster node %s at %s", self.id, self.settings.node_url)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("cluster registry unreachable at start-up (%s); this node joins when it is back", exc)
        self._tasks.append(asyncio.ensure_future(self._heartbeat()))

    async def _serve_commands(self, ready: asyncio.Event) -> None:
        """The command channel, subscribed again whenever the connection to Redis drops."""
        while True:
            try:
                await self.commands.serve(ready)
            except (RedisError, OSError) as exc:
                log.warning("cluster command channel lost (%s); subscribing again", exc)
            await asyncio.sleep(self.settings.heartbeat)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(RedisError, OSError):
            await self.registry.remove(self.id)
        await self.redis.aclose()

    async def drain(self) -> None:
        """Takes no new room from now on, and says so in the registry at once."""
        self.draining = True
        with contextlib.suppress(RedisError, OSError):
            await self.registry.publish(self.info())

    def info(self) -> NodeInfo:
        counts = self.sfu.counts()
        now, cpu = time.monotonic(), time.process_time()
        then, cpu_then = self._cpu_mark
        self._cpu_mark = (now, cpu)
        return NodeInfo(
            id=self.id,
            url=self.settings.node_url,
            rtc=sorted(set(self.sfu.settings.announce.get(h, h) for h in self.sfu.settings.hosts)),
            rooms=counts["live_rooms"],
            participants=counts["live_participants"],
            streams=counts["forwarded_streams"],
            recorded=counts["recorded_tracks"],
            cpu=round((cpu - cpu_then) / (now - then), 4) if now > then else 0.0,
            draining=self.draining,
            started=self.started,
        )

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat)
            try:
                await self.registry.publish(self.info())
                await self._fence()
                if self.draining:
                    await self.live_nodes()
                else:
                    await self._adopt_orphans()
            except (RedisError, OSError) as exc:
                log.warning("cluster registry unreachable: %s", exc)
            except Exception:
                log.exception("cluster heartbeat failed")

    async def _fence(self) -> None:
        """Closes the rooms this node runs that the database says are no longer its own: another
        node took one over while this node looked dead (a Redis outage, a long pause), or it was
        completed while this node could not be reached. Their participants reconnect and reach
        the room where it runs now."""
        local = list(self.sfu.rooms)
        if not local:
            return
        rows = await asyncio.to_thread(placement.holders, self.db, local)
        for room_sid in local:
            node, status = rows.get(room_sid, (None, "completed"))
            if status != "in-progress":
                log.warning("room %s was completed elsewhere; ending it here", room_sid)
                # On a task: ending waits for the room's recordings, the heartbeat must not.
                self._spawn(self.sfu.end_room(room_sid))
            elif node not in (None, self.id):
                log.warning("room %s now runs on node %s; closing it here", room_sid, node)
                room = self.sfu.rooms.pop(room_sid, None)
                if room is not None:
                    await room.close(
                        SIGNALING_CONNECTION_ERROR, f"Room {room_sid} moved to another node; connect again"
                    )

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _adopt_orphans(self) -> None:
        """Rooms whose node died go on here when this is the node that would be chosen for them;
        their empty-room timeout then ends them if nobody comes back."""
        # The registry alone says who is gone here: a node a relay just failed to reach may be
        # alive, and taking its rooms would split them (its participants' connections hold).
        nodes = self.nodes_seen = await self.registry.live()
        live = {n.id for n in nodes}
        orphans = await asyncio.to_thread(placement.orphaned_rooms, self.db, live)
        if not orphans:
            return
        rooms = await asyncio.to_thread(placement.placed_rooms, self.db)
        for account_sid, room_sid in orphans:
            chosen = placement.choose(nodes, rooms, self.id)
            if chosen is None or chosen.id != self.id:
                continue
            try:
                await self.sfu.open_room(account_sid, room_sid)
                rooms[self.id] = rooms.get(self.id, 0) + 1
                log.warning("took over room %s from a node that is gone", room_sid)
            except Exception as exc:  # another node took it first, or it ended
                log.info("did not take over room %s: %s", room_sid, exc)

    # -- where things are ------------------------------------------------------------------------
    async def live_nodes(self) -> list[NodeInfo]:
        """The registry's nodes less those this node just failed to reach (for routing and
        claiming a client's room; adopting orphans goes by the registry alone)."""
        now = time.monotonic()
        nodes = self.nodes_seen = await self.registry.live()
        return [n for n in nodes if n.id == self.id or not self._is_unreachable(n, now)]

    def _is_unreachable(self, node: NodeInfo, now: float) -> bool:
        started, until = self._unreachable.get(node.id, (0.0, 0.0))
        return until > now and started == node.started

    def unreachable(self, node: NodeInfo) -> None:
        self._unreachable[node.id] = (node.started, time.monotonic() + UNREACHABLE_FOR)

    async def claim(self, room_sid: str) -> str | None:
        """Makes this node the room's (the Sfu asks before it opens a room); returns the node
        that runs it instead, or None when it is ours."""
        try:
            live = {n.id for n in await self.live_nodes()} | {self.id}
        except (RedisError, OSError) as exc:
            log.warning(
                "cluster registry unreachable, %s opens only where it already runs: %s", room_sid, exc
            )
            holder = await asyncio.to_thread(placement.node_of, self.db, room_sid)
            return None if holder in (None, self.id) else holder
        if self.draining:
            holder = await asyncio.to_thread(placement.node_of, self.db, room_sid)
            if holder != self.id:
                return holder or "(none: this node is draining)"
        result = await asyncio.to_thread(placement.claim, self.db, room_sid, self.id, live)
        if result.taken_from:
            log.warning("room %s moved here from node %s, which is gone", room_sid, result.taken_from)
        return None if result.holder in (None, self.id) else result.holder

    async def route(self, account_sid: str, name: str) -> NodeInfo | None:
        """The node a client naming room `name` should be served by; None is this one."""
        try:
            nodes = await self.live_nodes()
        except (RedisError, OSError) as exc:
            log.warning("cluster registry unreachable, serving here: %s", exc)
            return None
        by_id = {n.id: n for n in nodes}
        found = await asyncio.to_thread(placement.room_holder, self.db, account_sid, name)
        if found is not None and found[1] is not None and found[1] in by_id:
            return None if found[1] == self.id else by_id[found[1]]
        rooms = await asyncio.to_thread(placement.placed_rooms, self.db)
        target = placement.choose(nodes, rooms, self.id)
        return None if target is None or target.id == self.id else target

    async def route_token(self, token: str | None, room: str | None) -> NodeInfo | None:
        """`route` for a client that so far has shown only its token; a token this node refuses
        is refused here, by the local session, with the usual error."""
        try:
            grant = await self.sfu.authenticate(token or "", room)
        except AccessTokenError:
            return None
        if not grant.room:
            return None
        return await self.route(grant.account_sid, grant.room)

    async def node_for_session(self, session_id: str) -> NodeInfo | None:
        """The live node that holds a twilio-video.js session (its id ends in `.node`), if not this one."""
        _, _, node_id = session_id.rpartition(".")
        if not node_id or node_id == self.id:
            return None
        try:
            return next((n for n in await self.live_nodes() if n.id == node_id), None)
        except (RedisError, OSError):
            return None
