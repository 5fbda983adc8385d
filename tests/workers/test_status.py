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
    # The API node on the Redis broker is a one-node cluster, listed with its load.
    assert checks["cluster"]["ok"] and checks["cluster"]["detail"].startswith(
        "1 live node (1 taking rooms)"
    ), checks["cluster"]
    nodes = [c for part, c in checks.items() if part.startswith("node ")]
    assert len(nodes) == 1 and "serving at http://127.0.0.1:" in nodes[0]["detail"], nodes

    stack.start_worker()
    wait_for(lambda: status(stack)[0] == 0, 60, "status to see the worker")
    code, checks = status(stack)
    assert checks["workers"]["ok"] and checks["workers"]["detail"].startswith("1 worker")
