"""Prometheus instruments, one set per process, and the database-derived gauges.

Counters and histograms count what this process did (a `roomreel worker` serves its own on
`--metrics-port`); the gauges read from the database describe the whole deployment, so any
API process answers them the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from pipeline.priority import JobPriority

JOBS = Counter("roomreel_jobs", "Jobs run by this process, by kind and outcome", ["kind", "outcome"])
JOB_SECONDS = Histogram(
    "roomreel_job_duration_seconds",
    "Wall time of one job attempt",
    ["kind"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
REALTIME_FACTOR = Histogram(
    "roomreel_composition_realtime_factor",
    "Media seconds rendered per wall-clock second, per composition (or part)",
    buckets=(0.25, 0.5, 1, 2, 4, 8, 16, 32, 64),
)
UPLOADED_BYTES = Counter("roomreel_storage_uploaded_bytes", "Bytes published to storage", ["backend"])
CALLBACK_FAILURES = Counter(
    "roomreel_callback_delivery_failures", "Status callback attempts that failed", ["final"]
)
SPEAKER_CHANGES = Counter(
    "roomreel_dominant_speaker_changes", "Times a live room's dominant speaker changed (levels read from RTP)"
)
RELAYED_BYTES = Counter(
    "roomreel_relayed_bytes", "Signaling bytes this node relayed for rooms on other nodes", ["direction"]
)
RELAYED_SOCKETS = Counter("roomreel_relayed_sockets", "Signaling sockets this node relayed to another node")
RETRANSMISSIONS = Counter(
    "roomreel_sfu_retransmissions", "Packets resent to subscribers from the forwarding history on their NACKs"
)
KEYFRAME_REQUESTS = Counter(
    "roomreel_sfu_keyframe_requests",
    "Keyframe requests: PLI/FIR from subscribers, and PLIs sent on to publishers (throttled)",
    ["direction"],
)
RECORDER_FRAMES = Counter("roomreel_recorder_frames_written", "Encoded frames journaled", ["kind"])
RECORDER_BYTES = Counter("roomreel_recorder_bytes_written", "Encoded media bytes journaled", ["kind"])

LOOP_LAG = Histogram(
    "roomreel_event_loop_lag_seconds",
    "How late a 100 ms timer fires on the API/SFU event loop (media forwarding waits as long)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0),
)
LOOP_TICK = 0.1


async def watch_event_loop() -> None:
    """Observe the loop's lateness every tick, until cancelled."""
    import asyncio

    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + LOOP_TICK
        await asyncio.sleep(LOOP_TICK)
        LOOP_LAG.observe(max(0.0, loop.time() - due))


class DatabaseCollector(Collector):
    """Queue depth, resource counts by status, live rooms and participants: read at scrape time."""

    def __init__(self, db) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        # Imported here: `roomreel compose` loads this module (storage counts its bytes) and
        # must not pay for SQLAlchemy, which it never uses.
        from sqlalchemy import func, select

        from pipeline.db.models import CallbackDelivery, Composition, Participant, Recording, Room

        depth = GaugeMetricFamily(
            "roomreel_queue_depth", "Compositions waiting for a worker, by priority", labels=["priority"]
        )
        compositions = GaugeMetricFamily("roomreel_compositions", "Compositions by status", labels=["status"])
        recordings = GaugeMetricFamily("roomreel_recordings", "Recordings by status", labels=["status"])
        rooms = GaugeMetricFamily("roomreel_rooms", "Rooms by status", labels=["status"])
        participants = GaugeMetricFamily(
            "roomreel_participants_connected", "Participants connected to a room now"
        )
        deliveries = GaugeMetricFamily(
            "roomreel_callback_deliveries", "Status callbacks by delivery status", labels=["status"]
        )
        with self.db.session() as session:
            waiting = dict(
                session.execute(
                    select(Composition.priority, func.count())
                    .where(Composition.status == "enqueued")
                    .group_by(Composition.priority)
                ).all()
            )
            for priority in JobPriority:
                depth.add_metric([priority.label], waiting.get(priority, 0))
            for family, model in (
                (compositions, Composition),
                (recordings, Recording),
                (rooms, Room),
                (deliveries, CallbackDelivery),
            ):
                for status, count in session.execute(
                    select(model.status, func.count()).group_by(model.status)
                ).all():
                    family.add_metric([status], count)
            participants.add_metric(
                [], session.scalar(select(func.count()).where(Participant.status == "connected")) or 0
            )
        yield from (depth, compositions, recordings, rooms, participants, deliveries)


class LiveRoomsCollector(Collector):
    """What this process's SFU forwards now; collect it on the event loop that owns the rooms."""

    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        counts = self.counts()
        for name, help_text in (
            ("live_rooms", "Rooms open in this process's SFU"),
            ("live_participants", "Participants connected to this process's SFU"),
            ("forwarded_streams", "Media streams this process's SFU forwards to subscribers now"),
            ("recorded_tracks", "Tracks this process is recording now"),
        ):
            yield GaugeMetricFamily(f"roomreel_{name}", help_text, value=counts.get(name, 0))


class ClusterCollector(Collector):
    """Every live node's load as this node last read it from the registry, so any one node's
    /metrics shows the whole cluster (labelled by node)."""

    FIGURES = (
        ("rooms", "Rooms a cluster node runs"),
        ("participants", "Participants connected to a cluster node"),
        ("streams", "Media streams a cluster node forwards"),
        ("recorded", "Tracks a cluster node records"),
        ("cpu", "A cluster node's CPU-seconds per second"),
        ("draining", "1 while a cluster node drains (takes no new room)"),
    )

    def __init__(self, nodes: Callable[[], list[Any]], node_id: str) -> None:
        self.nodes = nodes
        self.node_id = node_id

    def collect(self) -> Iterator[GaugeMetricFamily]:
        nodes = self.nodes()
        yield GaugeMetricFamily(
            "roomreel_cluster_nodes", "Live nodes in this node's cluster", value=len(nodes)
        )
        for figure, help_text in self.FIGURES:
            family = GaugeMetricFamily(f"roomreel_node_{figure}", help_text, labels=["node", "self"])
            for node in nodes:
                family.add_metric(
                    [node.id, str(node.id == self.node_id).lower()], float(getattr(node, figure))
                )
            yield family


def api_registry(db) -> CollectorRegistry:
    """The default registry (this process's counters) plus the deployment-wide gauges."""
    from prometheus_client import REGISTRY

    registry = CollectorRegistry()
    registry.register(_Forward(REGISTRY))
    registry.register(DatabaseCollector(db))
    return registry


def live_registry(live_counts: Callable[[], dict[str, Any]], cluster: Any = None) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(LiveRoomsCollector(live_counts))
    if cluster is not None:
        registry.register(ClusterCollector(lambda: cluster.nodes_seen, cluster.id))
    return registry


class _Forward(Collector):
    def __init__(self, registry) -> None:
        self.registry = registry

    def collect(self):
        return self.registry.collect()
