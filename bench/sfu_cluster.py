"""What running rooms on several nodes costs each node (`bench/sfu.py --nodes 1,2`).

On 2 cores the subscriber bots cost far more CPU than the SFU, so a 2-node run cannot show the
capacity doubling; it shows whether it would, in one invocation:
- CPU per forwarded stream of each node, with the same rooms all on one node (a one-node
  cluster) and spread over two (target: within 10%: a node's cost does not grow with the
  cluster). Each room has one pre-encoded 720p VP8 publisher and `--subscribers` bot
  subscribers; every bot joins through the first node, so the second node's rooms are reached
  through a relayed signaling socket, as behind a load balancer. The idle CPU of each node,
  measured before the rooms start, is taken off.
- Redis traffic per node per second, idle and while forwarding (Redis's own INFO counters over
  the window, divided by the nodes; nothing else uses that Redis meanwhile), and the relay's
  signaling bytes per second (roomreel_relayed_bytes from each node's /metrics).
- The join time added by a relayed socket: `RoomClient.connect()` to `joined`, p50 and p99 over
  `--joins` joins through the room's node and through the other one (target <= 20 ms at p50).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import psycopg
from redis import Redis

from bench.recorder import WARMUP, encode_clip
from bench.sfu import bot
from pipeline.client import RoomClient
from tests.metrics_scrape import scrape
from tests.pipeline.cluster.conftest import Cluster, make_cluster
from tests.services import ensure_postgres, ensure_redis


def fresh_database() -> tuple[str, str]:
    server = ensure_postgres()
    name = f"roomreel_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server, f"{server.rsplit('/', 1)[0]}/{name}"


def drop_database(server: str, url: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def redis_counters(redis: Redis) -> tuple[int, int]:
    stats = redis.info("stats")
    return stats["total_commands_processed"], stats["total_net_input_bytes"] + stats["total_net_output_bytes"]


def relayed_bytes(cluster: Cluster) -> float:
    total = 0.0
    for node in cluster.nodes:
        for (name, _labels), value in scrape(f"{node.base}/metrics").items():
            if name == "roomreel_relayed_bytes_total":
                total += value
    return total


def node_cpu(procs: list[psutil.Process]) -> list[float]:
    return [sum(p.cpu_times()[:2]) for p in procs]


def window(cluster: Cluster, procs: list[psutil.Process], redis: Redis, seconds: float) -> dict:
    cpu0, (cmds0, bytes0), relay0 = node_cpu(procs), redis_counters(redis), relayed_bytes(cluster)
    time.sleep(seconds)
    cpu1, (cmds1, bytes1), relay1 = node_cpu(procs), redis_counters(redis), relayed_bytes(cluster)
    nodes = len(cluster.nodes)
    return {
        "cpu": [(b - a) / seconds for a, b in zip(cpu0, cpu1)],
        "redis_cmds": (cmds1 - cmds0) / seconds / nodes,
        "redis_bytes": (bytes1 - bytes0) / seconds / nodes,
        "relay_bytes": (relay1 - relay0) / seconds / nodes,
    }


def forwarded(cluster: Cluster) -> list[float]:
    return [
        next(v for (n, _), v in scrape(f"{node.base}/metrics").items() if n == "roomreel_forwarded_streams")
        for node in cluster.nodes
    ]


def run_layout(
    nodes: int, rooms: int, subscribers: int, seconds: float, clip: Path, redis: Redis, work: Path
) -> dict:
    server, url = fresh_database()
    (work / f"nodes-{nodes}-rooms-{rooms}").mkdir()
    cluster = make_cluster(work / f"nodes-{nodes}-rooms-{rooms}", url, tuple("ab"[:nodes]))
    try:
        for node in cluster.nodes:  # production timings, not the tests' quick ones
            node.env.update(
                ROOMREEL_ROOM_TIMEOUT_UNIT="60", ROOMREEL_NODE_HEARTBEAT="2", ROOMREEL_NODE_TTL="8"
            )
            node.start()
        procs = [psutil.Process(node.proc.pid) for node in cluster.nodes]
        time.sleep(3)
        idle = window(cluster, procs, redis, seconds)
        names = [f"bench-{i}" for i in range(rooms)]
        for i, name in enumerate(names):  # made through each node in turn: placement spreads them
            cluster.client(cluster.nodes[i % nodes]).video.v1.rooms.create(unique_name=name)
        entry = cluster.nodes[0].base  # one URL for every client, as behind a load balancer
        duration = 90 + WARMUP + seconds + 5
        bots = []
        for name in names:
            bots.append(bot(entry, cluster.token("publisher", name), name, "publisher", duration, str(clip)))
            bots += [bot(entry, cluster.token(f"s{i}", name), name, f"s{i}", duration, "none")
                     for i in range(subscribers)]  # fmt: skip
        # Bots start slowly on a loaded machine: measure once every subscription forwards.
        deadline = time.monotonic() + 90
        while sum(forwarded(cluster)) < rooms * subscribers and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(WARMUP)
        streams = forwarded(cluster)
        busy = window(cluster, procs, redis, seconds)
        for p in bots:
            p.terminate()
            p.wait(60)
        joins = asyncio.run(join_times(cluster)) if nodes > 1 else None
        return {"idle": idle, "busy": busy, "streams": streams, "joins": joins}
    finally:
        for node in cluster.nodes:
            node.stop()
        cluster.db.engine.dispose()
        drop_database(server, url)


async def join_times(cluster: Cluster, joins: int = 20) -> dict[str, list[float]]:
    """Seconds from opening the socket to `joined`, through the room's node and through the other."""
    a, b = cluster.nodes
    cluster.client(a).video.v1.rooms.create(unique_name="joins")
    holder = a if _holder(cluster, "joins") == "node-a" else b
    other = b if holder is a else a
    times: dict[str, list[float]] = {"direct": [], "relayed": []}
    for i in range(joins):
        for kind, node in (
            (("direct", holder), ("relayed", other)) if i % 2 else (("relayed", other), ("direct", holder))
        ):
            started = time.perf_counter()
            client = await RoomClient(node.base, cluster.token(f"{kind}{i}", "joins"), decode=False).connect()
            times[kind].append(time.perf_counter() - started)
            await client.leave()
    return times


def _holder(cluster: Cluster, name: str) -> str | None:
    from sqlalchemy import select

    from pipeline.db.models import Room

    with cluster.db.session() as session:
        return session.scalar(select(Room.node_id).where(Room.unique_name == name))


def main(nodes: list[int], rooms: int, subscribers: int, seconds: float) -> None:
    redis = Redis.from_url(ensure_redis())
    with tempfile.TemporaryDirectory(prefix="roomreel-bench-cluster-") as tmp:
        work = Path(tmp)
        clip = encode_clip(work / "clip720.webm", seconds=int(WARMUP + seconds + 8))
        print(f"{rooms} rooms x (1 publisher 720p VP8 + {subscribers} subscribers), {seconds:.0f} s windows, "
              f"{psutil.cpu_count()} cores")  # fmt: skip
        print(f"{'nodes':>5} {'rooms':>5} {'node':>5} {'streams':>8} {'idle CPU':>9} {'busy CPU':>9} {'per stream':>11} "
              f"{'Redis cmd/s idle/busy':>22} {'Redis B/s idle/busy':>20} {'relay B/s':>10}")  # fmt: skip
        # The same rooms on one node and spread over more; and one node with as many rooms as
        # each node of the largest cluster has: a node's cost per stream also falls as its load
        # grows (more packets per event-loop wake-up), which is not the cluster's doing.
        layouts = [(count, rooms) for count in nodes]
        if max(nodes) > 1 and rooms // max(nodes) >= 1:
            layouts.insert(1, (1, rooms // max(nodes)))
        per_stream: dict[tuple[int, int], float] = {}
        joins = None
        for count, room_count in layouts:
            result = run_layout(count, room_count, subscribers, seconds, clip, redis, work)
            idle, busy = result["idle"], result["busy"]
            costs = []
            for i, streams in enumerate(result["streams"]):
                added = busy["cpu"][i] - idle["cpu"][i]
                cost = added / streams if streams else float("nan")
                if streams:
                    costs.append(cost)
                print(f"{count:>5} {room_count:>5} {'ab'[i]:>5} {streams:>8.0f} {idle['cpu'][i]:>9.3f} {busy['cpu'][i]:>9.3f} "
                      f"{cost:>11.4f} {idle['redis_cmds']:>10.1f}/{busy['redis_cmds']:<11.1f} "
                      f"{idle['redis_bytes']:>9.0f}/{busy['redis_bytes']:<10.0f} {busy['relay_bytes']:>10.0f}",
                      flush=True)  # fmt: skip
            per_stream[(count, room_count)] = statistics.mean(costs)
            joins = result["joins"] or joins
        for (count, room_count), cost in per_stream.items():
            same_load = per_stream.get((1, room_count // count)) if count > 1 else None
            ratio = (
                f", ratio {cost / same_load:.3f} against one node with the same load per node"
                if same_load
                else ""
            )
            print(
                f"CPU per forwarded stream, {room_count} rooms on {count} node(s): {cost:.4f} CPU-s/s{ratio}"
            )
        if joins:
            for kind in ("direct", "relayed"):
                values = sorted(joins[kind])
                print(f"join {kind:>8}: p50 {statistics.median(values) * 1000:.1f} ms, "
                      f"p99 {values[int(0.99 * (len(values) - 1))] * 1000:.1f} ms")  # fmt: skip
            added = statistics.median(joins["relayed"]) - statistics.median(joins["direct"])
            print(f"added by the relay at p50: {added * 1000:.1f} ms (target <= 20 ms)")
