"""`roomreel bot` joins a room as a real participant in its own process."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from tests.pipeline.sfu.conftest import join


def watch_bot(live, room: str, identity: str, *options: str):
    """Run `roomreel bot` with `options` while a viewer waits for its audio and video; the bot's
    exit code, stdout, stderr and the mean colour of the last video frame the viewer decoded."""

    async def scenario():
        viewer = await join(live, "viewer", room)
        bot = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pipeline.cli", "bot", "--url", live.base, "--room", room,
            "--identity", identity, "--token", live.token(identity, room), "--duration", "4", *options,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        await viewer.wait_until(lambda: len([t for t in viewer.remote.values() if t.frames > 20]) == 2, 20)
        video = next(t for t in viewer.remote.values() if t.kind == "video")
        rgb = video.last_frame.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)
        out, err = await asyncio.wait_for(bot.communicate(), 30)
        await viewer.leave()
        return bot.returncode, out, err, rgb

    return asyncio.run(scenario())


def test_bot_publishes_colour_and_tone(live):
    code, out, err, rgb = watch_bot(live, "bots", "bot1", "--colour", "#28c83c")
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


def test_bot_publishes_an_mp4_file_by_re_encoding_it(live, tmp_path):
    """H.264 in MP4 is length-prefixed and AAC is not Opus: the bot decodes and re-encodes."""
    import av
    import numpy as np

    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=15)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        audio = out.add_stream("aac", rate=48000)
        audio.layout = "mono"
        for i in range(45):
            frame = av.VideoFrame.from_ndarray(
                np.full((240, 320, 3), (40, 80, 230), np.uint8), format="rgb24"
            )
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode())
        samples = (np.sin(np.arange(48000 * 3) * 2 * np.pi * 440 / 48000) * 8000).astype(np.int16)
        for start in range(0, len(samples), 1024):
            frame = av.AudioFrame.from_ndarray(
                samples[None, start : start + 1024], format="s16", layout="mono"
            )
            frame.sample_rate, frame.pts = 48000, start
            out.mux(audio.encode(frame))
        out.mux(audio.encode())

    code, _, err, rgb = watch_bot(live, "mp4-bot", "filebot", "--video", str(path), "--audio", str(path))
    assert code == 0, err.decode()
    assert abs(rgb[2] - 230) < 40 and rgb[0] < 90, rgb
