"""TURN through coturn (#18.7): the SFU hands out coturn shared-secret credentials, and a
Chromium participant that may only use relayed candidates joins, publishes and is recorded."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from dataclasses import replace

import pytest

from pipeline.sfu.turn import TurnSettings
from tests.live_server import free_port
from tests.pipeline.sfu.test_chromium import CHROMIUM, CHROMIUM_ARGS, PAGE_CONFIG, async_api
from tests.waiting import wait_for

pytestmark = [pytest.mark.media, pytest.mark.slow]
SECRET = "coturn-shared-secret"


def test_credentials_follow_coturns_shared_secret_scheme():
    turn = TurnSettings(
        ("stun:turn.example.com:3478", "turn:turn.example.com:3478?transport=udp"), SECRET, 600
    )
    username, credential = turn.credentials("alice", now=1_700_000_000)
    assert username == "1700000600:alice"
    # echo -n 1700000600:alice | openssl dgst -sha1 -hmac coturn-shared-secret -binary | base64
    assert credential == "GQ+XmsI/IcDeSyMnQI/khbUQTXo="
    servers = turn.ice_servers("alice")
    assert servers[0] == {"urls": ["stun:turn.example.com:3478"]}
    assert servers[1]["urls"] == ["turn:turn.example.com:3478?transport=udp"] and servers[1]["username"]


@pytest.fixture
def coturn(tmp_path):
    if shutil.which("turnserver") is None:
        pytest.skip("coturn is not installed (scripts/install.sh installs it)")
    port = free_port()
    log = tmp_path / "turnserver.log"
    proc = subprocess.Popen(
        [
            "turnserver",
            "-n",
            "--listening-ip=127.0.0.1",
            "--relay-ip=127.0.0.1",
            f"--listening-port={port}",
            "--min-port=49152",
            "--max-port=65535",
            "--use-auth-secret",
            f"--static-auth-secret={SECRET}",
            "--realm=roomreel.test",
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            "--allow-loopback-peers",
            f"--log-file={log}",
            "--simple-log",
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield port, log
    proc.terminate()
    proc.wait(10)


async def relay_only_chromium(live, room: str, directory) -> list[str]:
    async with async_api.async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(directory / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            bypass_csp=True,
        )
        try:
            await context.add_init_script(PAGE_CONFIG)
            page = context.pages[0] if context.pages else await context.new_page()
            token = live.token("behind-a-firewall", room)
            await page.goto(f"{live.base}/rooms/{room}?identity=behind-a-firewall&token={token}&relay=1")
            joined = "window.roomreel.status === 'joined' && !!window.roomreel.published.microphone"
            await page.wait_for_function(joined, timeout=20_000)
            await asyncio.sleep(3.0)  # media must flow: the recordings last 2 s or more
            return await page.evaluate(
                """async () => {
                  const types = [];
                  for (const pc of window.roomreel.connections()) {
                    (await pc.getStats()).forEach((s) => {
                      if (s.type === "local-candidate") types.push(s.candidateType);
                    });
                  }
                  return types;
                }"""
            )
        finally:
            await context.close()


def test_a_participant_allowed_only_relayed_media_joins_and_is_recorded(live, coturn, tmp_path):
    port, _log = coturn
    sfu = live.app.state.sfu
    before = sfu.settings
    sfu.settings = replace(before, turn=TurnSettings((f"turn:127.0.0.1:{port}?transport=udp",), SECRET))
    try:
        twilio = live.client()
        room = twilio.video.v1.rooms.create(
            unique_name="through-turn", record_participants_on_connect=True, unused_room_timeout=60
        )
        candidates = asyncio.run(relay_only_chromium(live, room.unique_name, tmp_path))
    finally:
        sfu.settings = before
    assert candidates and set(candidates) == {"relay"}, candidates
    twilio.video.v1.rooms(room.sid).update(status="completed")
    recordings = wait_for(
        lambda: [r for r in twilio.video.v1.rooms(room.sid).recordings.list() if r.status == "completed"],
        30,
        "the relayed participant's recordings",
    )
    assert sorted(r.type for r in recordings) == ["audio", "video"]
    assert all(r.duration >= 2 for r in recordings)
