"""End to end on Redis and S3: API -> queue -> worker process -> S3 -> signed callbacks."""

import httpx
import pytest
from twilio.request_validator import RequestValidator

from tests.live_server import free_port
from tests.media_checks import streams
from tests.metrics_scrape import scrape, value
from tests.waiting import wait_for

pytestmark = [pytest.mark.services, pytest.mark.media]


def test_worker_renders_into_s3_and_calls_back(stack, room, tmp_path):
    room_sid = stack.run("import", str(room))
    metrics_port = free_port()
    stack.start_worker("--metrics-port", str(metrics_port))
    comp = stack.client().video.v1.compositions.create(
        room_sid=room_sid,
        video_layout="grid",
        audio_sources=["*"],
        format="mp4",
        status_callback=stack.receiver.url,
    )
    done = stack.wait_status(comp.sid, {"completed", "failed"})
    assert done.status == "completed", done
    assert done.media_external_location is None  # roomreel's own bucket is not the customer's
    assert f"rr/compositions/{stack.account_sid}/{comp.sid}.mp4" in stack.objects()
    assert not [k for k in stack.objects() if ".uploading" in k]
    with httpx.Client(base_url=stack.base, auth=(stack.account_sid, stack.auth_token)) as http:
        url = http.get(f"/v1/Compositions/{comp.sid}/Media").json()["redirect_to"]
    assert "X-Amz-Signature=" in url
    out = tmp_path / "out.mp4"
    out.write_bytes(httpx.get(url).content)
    info = streams(out)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac") and info.duration == pytest.approx(
        8, abs=0.1
    )

    wait_for(lambda: "composition-available" in stack.events(comp.sid), 30, "composition-available")
    events = stack.events(comp.sid)
    assert (
        events[:2] == ["composition-enqueued", "composition-started"]
        and events.count("composition-available") == 1
    )
    validator = RequestValidator(stack.auth_token)
    for _, headers, form in stack.receiver.received:
        assert validator.validate(stack.receiver.url, form, headers["X-Twilio-Signature"])

    # The worker host's own counters: the job it ran and the bytes it put in S3.
    worker = scrape(f"http://127.0.0.1:{metrics_port}/metrics")
    assert value(worker, "roomreel_jobs_total", kind="composition", outcome="completed") == 1
    assert value(worker, "roomreel_storage_uploaded_bytes_total", backend="s3") >= done.size
    assert value(worker, "roomreel_composition_realtime_factor_count") == 1

    # Deleting it removes the file from roomreel's bucket.
    stack.client().video.v1.compositions(comp.sid).delete()
    assert f"rr/compositions/{stack.account_sid}/{comp.sid}.mp4" not in stack.objects()


def test_hook_fires_on_room_completion(stack, room):
    client = stack.client()
    client.video.v1.composition_hooks.create(
        friendly_name="all-audio", audio_sources=["*"], format="mp4", status_callback=stack.receiver.url
    )
    stack.start_worker()
    room_sid = stack.run("import", str(room))  # a completed room: the hook fires
    made = wait_for(
        lambda: client.video.v1.compositions.list(room_sid=room_sid), 20, "the hook's composition"
    )
    assert stack.wait_status(made[0].sid, {"completed", "failed"}, timeout=120).status == "completed"
    empty = client.video.v1.rooms.create(unique_name="hooked-but-empty")
    client.video.v1.rooms(empty.sid).update(status="completed")
    wait_for(
        lambda: any(
            f.get("StatusCallbackEvent") == "composition-hook-failed" and f.get("RoomSid") == empty.sid
            for _, _, f in stack.receiver.received
        ),
        30,
        "composition-hook-failed",
    )


def test_long_composition_splits_across_two_workers(stack, room, tmp_path):
    from pipeline.compose.split import render_split  # noqa: F401  (the same windows, as jobs)
    from tests.media_checks import close, colour, frame_at, video_frames

    stack.env["ROOMREEL_SPLIT_SECONDS"] = "4"
    stack.env["ROOMREEL_SPLIT_WINDOW"] = "2.5"
    room_sid = stack.run("import", str(room))
    stack.start_worker()
    stack.start_worker()
    comp = stack.client().video.v1.compositions.create(
        room_sid=room_sid,
        video_layout="grid",
        audio_sources=["*"],
        format="mp4",
        status_callback=stack.receiver.url,
    )
    done = stack.wait_status(comp.sid, {"completed", "failed"}, timeout=180)
    assert done.status == "completed", done
    # The parts are removed right after the composition is published, not before.
    wait_for(
        lambda: not [k for k in stack.objects() if "/parts/" in k or ".uploading" in k],
        15,
        "parts cleaned up",
    )
    with httpx.Client(base_url=stack.base, auth=(stack.account_sid, stack.auth_token)) as http:
        url = http.get(f"/v1/Compositions/{comp.sid}/Media").json()["redirect_to"]
    out = tmp_path / "split.mp4"
    out.write_bytes(httpx.get(url).content)
    assert streams(out).duration == pytest.approx(8.0, abs=1 / 30)
    frames = video_frames(out)
    for t, point, rgb in [
        (2.2, (160, 120), (220, 40, 40)),
        (2.6, (480, 120), (255, 255, 255)),
        (5.5, (160, 360), (40, 80, 230)),
    ]:
        assert close(colour(frame_at(frames, t), *point), rgb), (t, point)
    wait_for(lambda: "composition-available" in stack.events(comp.sid), 30, "composition-available")
    # Two workers reconcile every 0.5 s and both send due callbacks: each still goes out once.
    assert stack.events(comp.sid).count("composition-available") == 1, stack.events(comp.sid)
    parts = [
        f for _, _, f in stack.receiver.received if f.get("CompositionSid") == comp.sid and "PartsTotal" in f
    ]
    assert parts and parts[-1]["PartsTotal"] == "4"  # three video windows and the audio
    assert all(int(f["SecondsRemaining"]) >= 0 for f in parts)  # as a single render reports it
