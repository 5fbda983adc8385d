"""The recording participant's cost: CPU-seconds per media-second per recorded 720p track.

Runs `roomreel serve` in its own process and N publishers (`roomreel bot` sending a pre-encoded
720p VP8 clip at about 2.5 Mbps, so publishers never encode) in others. For each N it measures
the server's CPU over a steady window twice, in a room that records everything and in one that
records nothing, and prints the recorder's own cost per track (the difference) beside the
total, with the journal write rate. Target: <= 0.05 CPU-s/s per recorded track.

    python bench/recorder.py [--tracks 1,5,10] [--seconds 15]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import httpx
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.live_server import ServeProcess  # noqa: E402

WARMUP = 4.0


def encode_clip(path: Path, seconds: int = 10, fps: int = 30) -> Path:
    """A moving texture, so the bitrate is real; keyframe every 2 s."""
    with av.open(str(path), "w", format="webm") as out:
        stream = out.add_stream("libvpx", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.bit_rate = 2_500_000
        stream.codec_context.time_base = Fraction(1, fps)
        stream.codec_context.gop_size = 2 * fps
        stream.options = {"deadline": "realtime", "cpu-used": "8"}
        rng = np.random.default_rng(1)
        base = rng.integers(0, 255, (720 + 64, 1280 + 64, 3), dtype=np.uint8)
        for i in range(seconds * fps):
            img = np.ascontiguousarray(base[i % 64 : i % 64 + 720, (2 * i) % 64 : (2 * i) % 64 + 1280])
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def measure(
    server: ServeProcess,
    clip: Path,
    tracks: int,
    seconds: float,
    record: bool,
    spool: Path,
):
    name = f"bench-{tracks}-{'rec' if record else 'plain'}-{time.time_ns()}"
    base, auth = server.base, server.auth
    httpx.post(
        f"{base}/v1/Rooms",
        auth=auth,
        data={"UniqueName": name, "RecordParticipantsOnConnect": str(record).lower()},
    ).raise_for_status()
    bots = []
    for i in range(tracks):
        token = server.token(f"pub{i}", name)
        bots.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pipeline.cli",
                    "bot",
                    "--url",
                    base,
                    "--room",
                    name,
                    "--identity",
                    f"pub{i}",
                    "--token",
                    token,
                    "--video",
                    str(clip),
                    "--audio",
                    "none",
                    "--duration",
                    str(WARMUP + seconds + 2),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
        )
    time.sleep(WARMUP)
    proc = psutil.Process(server.proc.pid)
    cpu0 = sum(proc.cpu_times()[:2])
    disk0 = _size(spool)
    time.sleep(seconds)
    cpu = sum(proc.cpu_times()[:2]) - cpu0
    written = _size(spool) - disk0
    for bot in bots:
        bot.wait(60)
    httpx.post(f"{base}/v1/Rooms/{name}", auth=auth, data={"Status": "completed"})
    return cpu / seconds, written / seconds


def _size(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*.rrj")) if directory.exists() else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tracks", default="1,5,10")
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="roomreel-bench-rec-"))
    # Longer than a whole measurement: MediaPlayer's loop does not restart a packet stream.
    clip = encode_clip(work / "clip720.webm", seconds=int(WARMUP + args.seconds + 4))
    server = ServeProcess.prepare(work / "data")
    server.start()
    spool = work / "data" / "spool" / "recordings"
    try:
        print(
            f"720p VP8 clip {clip.stat().st_size * 8 / 10 / 1e6:.2f} Mbps; {args.seconds:.0f} s windows on {os.cpu_count()} cores"
        )
        print(
            f"{'tracks':>6} {'recording CPU-s/s':>18} {'plain CPU-s/s':>14} {'recorder/track':>15} {'total/track':>12} {'journal MB/s':>13}"
        )
        for n in [int(x) for x in args.tracks.split(",")]:
            plain, _ = measure(server, clip, n, args.seconds, False, spool)
            recording, rate = measure(server, clip, n, args.seconds, True, spool)
            print(
                f"{n:>6} {recording:>18.3f} {plain:>14.3f} {(recording - plain) / n:>15.4f}"
                f" {recording / n:>12.4f} {rate / 1e6:>13.2f}"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
