"""A dead broker is said plainly and loses nothing (#18.3): serve warns at start and still
answers 201, `roomreel status` fails, a worker says so once per attempt at a growing interval,
and the composition runs once the broker comes up."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from datetime import datetime
from pathlib import Path

import boto3
import pytest

from tests.pipeline.api.conftest import free_port
from tests.pipeline.api.test_composition_jobs import Receiver
from tests.waiting import wait_for
from tests.workers.conftest import Stack, _up

pytestmark = [pytest.mark.services, pytest.mark.slow]


@pytest.fixture
def stack_without_broker(tmp_path: Path, moto_endpoint):
    bucket = f"rr-{uuid.uuid4().hex[:16]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=bucket)
    port, broker_port = free_port(), free_port()
    account, token = "AC" + uuid.uuid4().hex, uuid.uuid4().hex
    env = {
        **os.environ,
        "ROOMREEL_DATA_DIR": str(tmp_path / "data"),
        "ROOMREEL_DATABASE_URL": f"sqlite:///{tmp_path / 'roomreel.db'}",
        "ROOMREEL_STORAGE_URL": f"s3://{bucket}/rr?endpoint_url={moto_endpoint}&region=us-east-1",
        "ROOMREEL_BROKER_URL": f"redis://127.0.0.1:{broker_port}/0",
        "ROOMREEL_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "ROOMREEL_ACCOUNT_SID": account,
        "ROOMREEL_AUTH_TOKEN": token,
        "ROOMREEL_HEARTBEAT_SECONDS": "1",
    }
    receiver = Receiver()
    stack = Stack(env, f"http://127.0.0.1:{port}", bucket, moto_endpoint, account, token, receiver)
    redis_server: list[subprocess.Popen] = []

    def start_broker() -> None:
        redis_server.append(
            subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(broker_port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],  # fmt: skip
                stdout=subprocess.DEVNULL,
            )
        )

    stack.start_broker = start_broker  # type: ignore[attr-defined]
    stack.serve_log = tmp_path / "serve.log"  # type: ignore[attr-defined]
    stack.worker_log = tmp_path / "worker.log"  # type: ignore[attr-defined]
    yield stack
    for proc in stack.procs:
        if proc.poll() is None:
            stack.kill(proc)
    for proc in redis_server:
        proc.terminate()
        proc.wait(10)
    receiver.close()


def test_a_broker_that_is_down_then_up_loses_nothing(stack_without_broker, room):
    stack = stack_without_broker
    room_sid = stack.run("import", str(room))
    with open(stack.serve_log, "wb") as serve_log:
        stack.start("serve", "--port", stack.base.rsplit(":", 1)[1], stderr=serve_log)
    wait_for(lambda: _up(stack.base), 30, "the API")
    assert "unreachable" in stack.serve_log.read_text()

    created = stack.client().video.v1.compositions.create(
        room_sid=room_sid, audio_sources=["*"], format="mp4"
    )
    assert created.status == "enqueued"
    serve_text = stack.serve_log.read_text()
    assert "Traceback" not in serve_text and f"composition {created.sid} waits in the database" in serve_text

    status = subprocess.run(
        [os.sys.executable, "-m", "pipeline.cli", "status", "--json"],
        env=stack.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert status.returncode == 1
    assert {c["part"]: c["ok"] for c in json.loads(status.stdout)}["broker"] is False

    with open(stack.worker_log, "wb") as worker_log:
        stack.start("worker", "--processes", "1", "--threads", "1", "--reconcile-every", "0.5",
                    stderr=worker_log)  # fmt: skip

    # The worker's own back-off is what is measured: tries at 0, 1 and 3 s, each one logged with
    # its time, so the gaps between them are checked rather than a count after a fixed sleep.
    def tries() -> list[str]:
        return [line for line in stack.worker_log.read_text().splitlines() if "unreachable" in line]

    lines = wait_for(lambda: len(tries()) >= 3 and tries(), 60, "three tries of the broker")
    assert "next try in 1 s" in lines[0] and "next try in 2 s" in lines[1], lines
    assert "next try in 4 s" in lines[2], lines
    at = [datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp() for line in lines[:3]]
    # The delay runs from before each try and the line comes after it, so a slow try shortens
    # the gap between lines a little: half a second of margin, far from hammering or not doubling.
    assert at[1] - at[0] >= 0.5 and at[2] - at[1] >= 1.5, (at, lines)
    assert "CRITICAL" not in stack.worker_log.read_text()

    stack.start_broker()
    done = stack.wait_status(created.sid, {"completed", "failed"}, timeout=120)
    assert done.status == "completed"
    assert "is back" in stack.worker_log.read_text()
