"""The forwarding core's cost: one pre-encoded 720p VP8 publisher (about 2.5-3 Mbps, never
re-encoded) and N = 1, 5, 10, 20 subscribers, each in its own process (`roomreel bot` that
publishes nothing and receives without decoding).

Prints the SFU process's CPU-seconds per media-second, in total and per forwarded stream
(also with the publisher-only cost taken out), and the event-loop responsiveness: the p50/p99
round trip of a signaling ping during the window (a stalled loop shows up here at once).
Targets: <= 0.01 CPU-s/s per forwarded 720p stream, p99 loop lag <= 20 ms at 20 subscribers.

    python bench/sfu.py [--subscribers 1,5,10,20] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.recorder import WARMUP, encode_clip  # noqa: E402
from pipeline.accounts import create_api_key, ensure_account  # noqa: E402
from pipeline.config import Settings  # noqa: E402
from pipeline.db import Database  # noqa: E402
from pipeline.sfu.access_token import mint  # noqa: E402
from tests.live_server import free_port  # noqa: E402


def bot(base: str, token: str, room: str, identity: str, duration: float, video: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "bot", "--url", base, "--room", room, "--identity", identity,
         "--token", token, "--video", video, "--audio", "none", "--duration", str(duration)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def ping_rtts(base: str, token: str, seconds: float) -> list[float]:
    from websockets.asyncio.client import connect

    rtts = []
    async with connect(base.replace("http", "ws") + f"/v1/signal?token={token}") as ws:
        await ws.recv()  # joined
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.monotonic()
            await ws.send(json.dumps({"type": "ping"}))
            while json.loads(await ws.recv()).get("type") != "pong":
                pass
            rtts.append(time.monotonic() - started)
            await asyncio.sleep(0.05)
    return rtts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", default="1,5,10,20")
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    counts = [int(x) for x in args.subscribers.split(",")]
    work = Path(tempfile.mkdtemp(prefix="roomreel-bench-sfu-"))
    clip = encode_clip(work / "clip720.webm", seconds=int(WARMUP + args.seconds + 6))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "ROOMREEL_DATA_DIR": str(work / "data"), "ROOMREEL_PUBLIC_URL": base}
    settings = Settings.from_env(env)
    db = Database(settings.database_url)
    db.upgrade()
    account, _ = ensure_account(db, settings)
    key = create_api_key(db, account.sid)
    server = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/openapi.json", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        proc = psutil.Process(server.pid)
        print(f"720p VP8 publisher, {args.seconds:.0f} s windows, {os.cpu_count()} cores")
        print(
            f"{'subs':>5} {'CPU-s/s':>8} {'per stream':>11} {'per stream-pub':>15} {'ping p50 ms':>12} {'ping p99 ms':>12}"
        )
        baseline = None
        for n in [0, *counts]:
            room = f"bench-{n}-{time.time_ns()}"
            duration = WARMUP + args.seconds + 3
            tok = lambda who, room=room: mint(account.sid, key.sid, key.secret, who, room)  # noqa: E731
            procs = [bot(base, tok("publisher"), room, "publisher", duration, str(clip))]
            procs += [bot(base, tok(f"s{i}"), room, f"s{i}", duration, "none") for i in range(n)]
            time.sleep(WARMUP)
            cpu0 = sum(proc.cpu_times()[:2])
            rtts = asyncio.run(ping_rtts(base, tok("pinger"), args.seconds))
            cpu = (sum(proc.cpu_times()[:2]) - cpu0) / args.seconds
            for p in procs:
                p.wait(60)
            if n == 0:
                baseline = cpu
                print(f"{0:>5} {cpu:>8.3f} {'(publisher only)':>28}")
                continue
            rtts.sort()
            print(
                f"{n:>5} {cpu:>8.3f} {cpu / n:>11.4f} {(cpu - baseline) / n:>15.4f}"
                f" {statistics.median(rtts) * 1000:>12.1f} {rtts[int(len(rtts) * 0.99) - 1] * 1000:>12.1f}",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
