"""Nothing is lost: a worker killed mid-render, Redis restarted mid-queue."""

import signal
import subprocess

import pytest
import redis

from pipeline.media.synthetic import COLORS, Participant, make_room
from tests.services import ensure_redis
from tests.waiting import wait_for

pytestmark = [pytest.mark.services, pytest.mark.media]


@pytest.fixture(scope="module")
def long_room(tmp_path_factory):
    """30 s of four participants: long enough to kill a render in the middle."""
    directory = tmp_path_factory.mktemp("long-room")
    make_room(
        directory,
        [
            Participant(f"p{i}", COLORS[i], 0.0, 30.0, tone_hz=300 + 100 * i, size=(640, 480), textured=True)
            for i in range(4)
        ],
        fps=15,
        room_name="long",
    )
    return directory


def test_sigkill_mid_render_completes_on_another_worker(stack, long_room):
    room_sid = stack.run("import", str(long_room))
    first = stack.start_worker()
    comp = stack.client().video.v1.compositions.create(
        room_sid=room_sid,
        video_layout="grid",
        audio_sources=["*"],
        resolution="1280x720",
        format="mp4",
        status_callback=stack.receiver.url,
    )
    wait_for(lambda: stack.composition(comp.sid).status == "processing", 60, "the render to start")
    wait_for(lambda: "composition-progress" in stack.events(comp.sid), 60, "some progress")
    stack.kill(first, signal.SIGKILL)
    stack.start_worker()
    done = stack.wait_status(comp.sid, {"completed", "failed"}, timeout=240)
    assert done.status == "completed"
    objects = stack.objects()
    outputs = [k for k in objects if k.startswith("rr/compositions/")]
    assert outputs == [f"rr/compositions/{stack.account_sid}/{comp.sid}.mp4"]
    assert not [k for k in objects if ".uploading" in k]
    data = stack.env["ROOMREEL_DATA_DIR"]
    leftovers = subprocess.run(
        ["find", data, "-path", f"*{comp.sid}*"], capture_output=True, text=True
    ).stdout
    assert leftovers.strip() == "", leftovers
    wait_for(lambda: "composition-available" in stack.events(comp.sid), 30, "composition-available")
    assert stack.events(comp.sid).count("composition-available") == 1


def test_redis_restart_mid_queue_loses_nothing(stack, room):
    room_sid = stack.run("import", str(room))
    client = stack.client()
    sids = [
        client.video.v1.compositions.create(room_sid=room_sid, audio_sources=["*"], format="mp4").sid
        for _ in range(3)
    ]
    # The messages sit in Redis; Redis goes down and comes back empty.
    try:
        redis.Redis(host="127.0.0.1", port=6379).shutdown(nosave=True)
    except redis.exceptions.ConnectionError:
        pass
    ensure_redis()
    # The queue is gone (the API node's cluster entry, `roomreel:*`, is back within a heartbeat).
    keys = redis.Redis(host="127.0.0.1", port=6379, db=15).keys()
    assert not [k for k in keys if not k.startswith(b"roomreel:")], keys
    stack.start_worker()
    for sid in sids:
        assert stack.wait_status(sid, {"completed", "failed"}, timeout=120).status == "completed"
