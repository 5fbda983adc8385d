"""GET /metrics: valid Prometheus text that follows the queue, the jobs and the uploads."""

import pytest

from pipeline.embedded import compose_pending
from pipeline.importer import import_room
from pipeline.signing_key import deployment_storage
from tests.metrics_scrape import scrape, value

pytestmark = pytest.mark.media


def test_metrics_parse_and_change_after_a_composition(server, room):
    storage = deployment_storage(server.settings, server.db, server.base)
    before = scrape(f"{server.base}/metrics")
    for name in ("roomreel_live_rooms", "roomreel_forwarded_streams", "roomreel_live_participants"):
        assert (name, ()) in before
    room_sid = import_room(server.db, storage, server.account_sid, room)
    composition = server.client().video.v1.compositions.create(
        room_sid=room_sid, video_layout={"grid": {"video_sources": ["*"]}}, audio_sources=["*"], format="webm"
    )
    queued = scrape(f"{server.base}/metrics")
    assert (
        value(queued, "roomreel_queue_depth", priority="api")
        == value(before, "roomreel_queue_depth", priority="api") + 1
    )

    assert compose_pending(server.db, storage) >= 1
    assert server.client().video.v1.compositions(composition.sid).fetch().status == "completed"
    after = scrape(f"{server.base}/metrics")
    assert value(after, "roomreel_queue_depth", priority="api") == value(
        before, "roomreel_queue_depth", priority="api"
    )
    assert value(after, "roomreel_compositions", status="completed") == (
        value(before, "roomreel_compositions", status="completed") + 1
    )
    assert value(after, "roomreel_jobs_total", kind="composition", outcome="completed") == (
        value(before, "roomreel_jobs_total", kind="composition", outcome="completed") + 1
    )
    assert value(after, "roomreel_job_duration_seconds_count", kind="composition") > value(
        before, "roomreel_job_duration_seconds_count", kind="composition"
    )
    factor = "roomreel_composition_realtime_factor"
    assert value(after, f"{factor}_count") == value(before, f"{factor}_count") + 1
    assert value(after, f"{factor}_sum") > value(before, f"{factor}_sum")  # a positive speed
    uploaded = value(after, "roomreel_storage_uploaded_bytes_total", backend="local") - value(
        before, "roomreel_storage_uploaded_bytes_total", backend="local"
    )
    assert uploaded >= server.client().video.v1.compositions(composition.sid).fetch().size
