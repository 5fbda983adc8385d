"""The README's tour runs as written (#18.1): on a fresh per-user data directory, from another
working directory, every line of its block in order. The harness only adds what a person does
by looking: it waits for the server to answer and for the composition to finish, skips the
lines that open a browser, and moves port 8080 to a free one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.media.synthetic import COLORS
from tests.live_server import free_port
from tests.media_checks import close, colour, streams, video_frames

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parents[1] / "README.md"


def tour_commands() -> list[str]:
    text = README.read_text()
    block = re.search(r"## A minute's tour.*?```sh\n(.*?)```", text, re.S).group(1)
    return [line.strip() for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def harness(commands: list[str], port: int) -> str:
    up = f"for i in $(seq 300); do curl -sf -o /dev/null http://127.0.0.1:{port}/openapi.json && break; sleep 0.2; done"
    status = 'python3 -c \'import json,sys; print(json.load(sys.stdin)["compositions"][0]["status"])\''
    composed = (
        f'for i in $(seq 600); do s=$(curl -s -u "$ACCOUNT_SID:$AUTH_TOKEN" '
        f'"http://127.0.0.1:{port}/v1/Compositions?RoomSid=$ROOM_SID" | {status}); '
        '[ "$s" = completed ] && break; [ "$s" = failed ] && exit 3; sleep 0.5; done'
    )
    lines = ["set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"]
    for command in commands:
        if command.startswith("xdg-open"):
            continue
        command = command.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        command = command.replace("roomreel serve", f"roomreel serve --port {port}")
        lines.append(command)
        if "roomreel serve" in command:
            lines.append(up)
        if "/v1/Compositions" in command:
            lines.append(composed)
    return "\n".join(lines) + "\n"


def test_the_readme_tour_runs_as_written(tmp_path):
    port = free_port()
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROOMREEL_", "XDG_"))}
    env.update(
        HOME=str(home),
        PATH=f"{Path(sys.executable).parent}:{env['PATH']}",
        ROOMREEL_PUBLIC_URL=f"http://127.0.0.1:{port}",  # only because the port moved
    )
    result = subprocess.run(
        ["bash", "-c", harness(tour_commands(), port)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr

    data = home / ".local" / "share" / "roomreel"
    (demo_mp4,) = (data / "demo" / "storage" / "compositions").glob("*/*.mp4")
    assert f"{demo_mp4}\n" in result.stdout  # the demo ends with its composed file's path
    assert (data / "demo" / "preview.png").stat().st_size > 0
    assert "room directory:" in result.stderr
    info = streams(demo_mp4)
    assert (info.video_codec, info.audio_codec, info.width, info.height) == ("h264", "aac", 1280, 720)
    assert info.duration == pytest.approx(20.0, abs=1.5)
    # At 12 s all four demo participants are in the 2x2 grid (bob's camera is back on).
    img = next(img for t, img in video_frames(demo_mp4) if t >= 12.0)
    found = sorted(colour(img, x, y) for x, y in ((320, 180), (960, 180), (320, 540), (960, 540)))
    assert all(any(close(f, c, 40) for f in found) for c in COLORS[:4]), found

    assert (work / "p.png").stat().st_size > 0
    grid = streams(work / "room.mp4")
    assert (grid.width, grid.height) == (1280, 720) and grid.duration == pytest.approx(20.0, abs=1.5)
    alice = streams(work / "alice.webm")
    assert alice.video_codec is None and alice.audio_codec == "opus"
    assert "alice joined room standup" in result.stderr
    (served,) = (data / "storage" / "compositions").glob("*/*.mp4")
    assert streams(served).duration == pytest.approx(10.0, abs=2.0)
