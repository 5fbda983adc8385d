"""`roomreel bot` joins a room as a real participant in its own process."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from tests.pipeline.sfu.conftest import join


def test_bot_publishes_colour_and_tone(live):
    async def scenario():
        viewer = await join(live, "viewer", "bots")
        bot = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pipeline.cli", "bot", "--url", live.base, "--room", "bots",
            "--identity", "bot1", "--token", live.token("bot1", "bots"), "--duration", "4",
            "--colour", "#28c83c", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        await viewer.wait_until(lambda: len([t for t in viewer.remote.values() if t.frames > 20]) == 2, 20)
        video = next(t for t in viewer.remote.values() if t.kind == "video")
        rgb = video.last_frame.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)
        out, err = await asyncio.wait_for(bot.communicate(), 30)
        await viewer.leave()
        return bot.returncode, out, err, rgb

    code, out, err, rgb = asyncio.run(scenario())
    assert code == 0, err.decode()
    report = json.loads(out)
    assert report["identity"] == "bot1" and report["room_sid"].startswith("RM")
    assert abs(rgb[1] - 200) < 30 and rgb[0] < 80


def test_bot_reports_a_refused_token_in_one_line(live):
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "bot", "--url", live.base, "--room", "x", "--identity", "y",
         "--token", "nonsense", "--duration", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "20101" in result.stderr
