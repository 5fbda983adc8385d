"""A restarted server still ends the rooms nobody was in: their timeouts run again."""

from __future__ import annotations

import signal

import httpx

from tests.live_server import ServeProcess
from tests.waiting import wait_for


def test_an_unused_room_left_by_a_killed_server_still_ends(tmp_path):
    server = ServeProcess.prepare(tmp_path)
    server.env["ROOMREEL_ROOM_TIMEOUT_UNIT"] = "0.5"  # seconds per timeout "minute"
    base, auth = server.base, server.auth
    server.start()
    try:
        created = httpx.post(
            f"{base}/v1/Rooms", auth=auth, data={"UniqueName": "idle", "UnusedRoomTimeout": "6"}
        )  # 3 s here
        created.raise_for_status()
        sid = created.json()["sid"]
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(10)
        server.start()

        def status() -> str:
            return httpx.get(f"{base}/v1/Rooms/{sid}", auth=auth).json()["status"]

        assert status() == "in-progress"
        wait_for(lambda: status() == "completed", 15, "the idle room to end after the restart")
    finally:
        server.stop()
