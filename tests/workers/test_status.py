"""`roomreel status` on a real deployment: Redis, S3 over HTTP, the API and worker processes."""

import json
import subprocess
import sys

import pytest

from tests.waiting import wait_for

pytestmark = pytest.mark.services


def status(stack) -> tuple[int, dict[str, dict]]:
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "status", "--json"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, {c["part"]: c for c in json.loads(result.stdout)}


def test_status_reports_each_part_and_fails_without_workers(stack):
    code, checks = status(stack)
    assert code == 1
    for part in ("database", "api", "broker", "queue", "storage"):
        assert checks[part]["ok"], checks[part]
    assert not checks["workers"]["ok"] and "0 worker" in checks["workers"]["detail"]
    assert "s3://" in checks["storage"]["detail"]

    stack.start_worker()
    wait_for(lambda: status(stack)[0] == 0, 60, "status to see the worker")
    code, checks = status(stack)
    assert checks["workers"]["ok"] and checks["workers"]["detail"].startswith("1 worker")
