"""Structured logs: one JSON object per line, naming the SIDs each line is about."""

from __future__ import annotations

import asyncio
import json
import logging

from pipeline.client import RoomClient
from pipeline.logs import JsonFormatter, TextFormatter, log_context
from tests.live_server import ServeProcess


def formatted(formatter: logging.Formatter, message: str, *args) -> str:
    record = logging.LogRecord("roomreel.test", logging.INFO, __file__, 1, message, args, None)
    return formatter.format(record)


def test_json_lines_carry_the_context_and_the_sids_in_the_message():
    room, comp = "RM" + "a" * 32, "CJ" + "b" * 32
    with log_context(room_sid=room):
        line = json.loads(formatted(JsonFormatter(), "composition %s failed", comp))
    assert line["room_sid"] == room and line["composition_sid"] == comp
    assert line["level"] == "info" and line["message"] == f"composition {comp} failed"
    outside = json.loads(formatted(JsonFormatter(), "nothing in particular"))
    assert "room_sid" not in outside


def test_a_newline_in_what_a_client_chose_cannot_forge_a_line():
    line = formatted(
        TextFormatter(), "%s connected", "eve\n2026-11-30 00:00:00 INFO roomreel.api: admin logged in"
    )
    assert "\n" not in line and "eve\\n2026" in line
    record = logging.LogRecord("roomreel.test", logging.ERROR, __file__, 1, "failed", (), None)
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert "Traceback" in TextFormatter().format(record)  # tracebacks keep their lines


def test_a_token_from_the_environment_is_never_logged(tmp_path):
    import os
    import subprocess
    import sys

    from tests.live_server import free_port
    from tests.waiting import wait_for

    token = "f" * 32
    env = {**os.environ, "ROOMREEL_DATA_DIR": str(tmp_path), "ROOMREEL_ACCOUNT_SID": "AC" + "e" * 32,
           "ROOMREEL_AUTH_TOKEN": token}  # fmt: skip
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "serve", "--port", str(free_port())], env=env, stderr=out
        )
        try:
            wait_for(lambda: "serving on" in log.read_text(), 60, "roomreel serve to start")
        finally:
            proc.terminate()
            proc.wait(30)
    text = log.read_text()
    assert "created account AC" in text and token not in text


def test_text_lines_name_context_sids_the_message_leaves_out():
    with log_context(recording_sid="RT" + "c" * 32):
        assert formatted(TextFormatter(), "recording completed").endswith("recording_sid=RT" + "c" * 32)


def test_a_json_server_logs_a_participant_with_its_room_and_participant_sids(tmp_path):
    server = ServeProcess.prepare(tmp_path)
    server.env["ROOMREEL_LOG_FORMAT"] = "json"
    server.log_path = tmp_path / "serve.log"
    server.start()
    try:

        async def visit() -> tuple[str, str]:
            client = await RoomClient(server.base, server.token("logged", "logs")).connect()
            sids = client.room_sid, client.sid
            await client.leave()
            return sids

        room_sid, participant_sid = asyncio.run(visit())
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.log_path.read_text().splitlines() if line.strip()]
    connected = [x for x in lines if x["message"] == "logged connected"]
    assert connected and connected[0]["room_sid"] == room_sid
    assert connected[0]["participant_sid"] == participant_sid
    assert any(x["message"] == "logged disconnected" and x["room_sid"] == room_sid for x in lines)
