"""A worker host with ROOMREEL_LOG_FORMAT=json writes nothing but JSON lines, from the
`roomreel worker` parent, dramatiq's main process and its worker processes alike."""

import json

import pytest

pytestmark = [pytest.mark.services, pytest.mark.media]


def test_a_json_worker_logs_json_lines_naming_the_composition(stack, room, tmp_path):
    room_sid = stack.run("import", str(room))
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        worker = stack.start("worker", "--processes", "1", "--threads", "1",
                             env={"ROOMREEL_LOG_FORMAT": "json"}, stderr=log)  # fmt: skip
        comp = stack.client().video.v1.compositions.create(room_sid=room_sid, audio_sources=["*"])
        assert stack.wait_status(comp.sid, {"completed", "failed"}).status == "completed"
        stack.kill(worker, 15)
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {"time", "level", "logger", "message"} <= set(records[0])
    about = [r for r in records if r.get("composition_sid") == comp.sid]
    assert any("completed" in r["message"] for r in about), about
    started = [r for r in about if "started" in r["message"]]
    assert started and all(r.get("room_sid") == room_sid for r in started)
