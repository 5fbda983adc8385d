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
