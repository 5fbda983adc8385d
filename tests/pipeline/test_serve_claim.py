"""A second `roomreel serve` never damages the first (#18.2): it fails on the data directory or
the port before it recovers anything, and says which."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.live_server import ServeProcess, free_port

pytestmark = pytest.mark.slow


def second_serve(env: dict[str, str], port: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_second_server_on_the_same_data_directory_or_port_leaves_the_first_alone(tmp_path):
    first = ServeProcess.prepare(tmp_path / "first")
    first.start()
    try:
        room = httpx.post(f"{first.base}/v1/Rooms", data={"UniqueName": "live"}, auth=first.auth).json()
        same_dir = second_serve({**first.env, "ROOMREEL_PUBLIC_URL": "http://127.0.0.1:1"}, free_port())
        assert same_dir.returncode != 0
        assert "another roomreel serve (pid" in same_dir.stderr and str(tmp_path / "first") in same_dir.stderr
        assert "serving on" not in same_dir.stderr and "Traceback" not in same_dir.stderr

        other = ServeProcess.prepare(tmp_path / "other")
        same_port = second_serve(other.env, first.port)
        assert same_port.returncode != 0
        assert f"cannot listen on 127.0.0.1:{first.port}" in same_port.stderr
        assert "serving on" not in same_port.stderr and "Traceback" not in same_port.stderr

        fetched = httpx.get(f"{first.base}/v1/Rooms/{room['sid']}", auth=first.auth).json()
        assert fetched["status"] == "in-progress"
    finally:
        first.stop()
    # Once the first has stopped, its directory is free again.
    first.start()
    first.stop()
