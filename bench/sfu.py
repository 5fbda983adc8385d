"""The forwarding core's cost: one pre-encoded 720p VP8 publisher (about 2.5-3 Mbps, never
re-encoded) and N = 1, 5, 10, 20 subscribers, each in its own process (`roomreel bot` that
publishes nothing and receives without decoding).

Prints the SFU process's CPU-seconds per media-second, in total and per forwarded 720p stream
(both probes below subscribe to the video too, so N + 2 streams), and the marginal cost of each
bot subscriber over the N = 0 run; the event-loop responsiveness: the p50/p99
round trip of a signaling ping during the window, and the server's own event-loop lag (how late
its 100 ms timer fires, from /metrics: roomreel_event_loop_lag_seconds); and
the audio latency of one hop: a probe participant publishes pre-encoded Opus (noise, so every
packet is unique) and a probe subscriber matches each packet it receives to the instant it was
handed to the publisher's sender. Both probes run in this process, over loopback, so the figure
is the whole publisher -> SFU -> subscriber path, an upper bound on the SFU's own share.
Targets: <= 0.01 CPU-s/s per forwarded 720p stream, p99 loop lag <= 20 ms at 20 subscribers,
audio latency added per hop <= 25 ms.

    python bench/sfu.py [--subscribers 1,5,10,20] [--seconds 15]
    python bench/sfu.py --nodes 1,2 [--rooms 2] [--subscribers 4] [--seconds 15]   # bench/sfu_cluster.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import psutil
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.recorder import WARMUP, encode_clip  # noqa: E402
from pipeline.client import RoomClient  # noqa: E402
from tests.live_server import ServeProcess  # noqa: E402
from tests.metrics_scrape import scrape  # noqa: E402

OPUS_FRAME = 960  # 20 ms at 48 kHz


def bot(base: str, token: str, room: str, identity: str, duration: float, video: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "bot", "--url", base, "--room", room, "--identity", identity,
         "--token", token, "--video", video, "--audio", "none", "--duration", str(duration)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        # In production subscribers are other machines: here they yield the CPU to the SFU, so
        # its loop lag measures its own work rather than 20 receivers starving it on 2 cores.
        preexec_fn=lambda: os.nice(19),
    )  # fmt: skip


def opus_noise(seconds: float) -> list[bytes]:
    """Opus packets of white noise: no two alike, so a received packet names the one sent."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.layout, codec.format = 48000, "stereo", "s16"
    rng = np.random.default_rng(7)
    packets: list[bytes] = []
    for i in range(int(seconds * 50)):
        samples = rng.integers(-8000, 8000, (1, OPUS_FRAME * 2), dtype=np.int16)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="stereo")
        frame.sample_rate, frame.pts = 48000, i * OPUS_FRAME
        packets += [bytes(p) for p in codec.encode(frame)]
    return packets


class StampedOpusTrack(MediaStreamTrack):
    """Paces pre-encoded Opus packets in real time and notes when each is handed to the sender."""

    kind = "audio"

    def __init__(self, packets: list[bytes]) -> None:
        super().__init__()
        self.packets = packets
        self.sent: dict[bytes, float] = {}
        self._index = 0
        self._start: float | None = None

    async def recv(self) -> av.Packet:
        if self._index >= len(self.packets):
            self.stop()
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._index * OPUS_FRAME / 48000
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        data = self.packets[self._index]
        packet = av.Packet(data)
        packet.pts, packet.time_base = self._index * OPUS_FRAME, Fraction(1, 48000)
        self._index += 1
        self.sent[data] = time.time()
        return packet


async def probe(
    base: str, tokens: dict[str, str], seconds: float, server: psutil.Process
) -> tuple[float, list[float], list[float], str]:
    """The server's CPU-s/s, signaling ping round trips and per-packet audio latencies, over one
    window that starts once the probes are connected."""
    track = StampedOpusTrack(opus_noise(seconds + 2))
    latencies: list[float] = []
    listener = await RoomClient(base, tokens["listener"], decode=False).connect()
    speaker = await RoomClient(base, tokens["speaker"], decode=False).connect()

    def on_frame(mid: str, frame) -> None:
        sent = track.sent.get(frame.data)
        if sent is not None:
            latencies.append(frame.arrival - sent)

    listener.on_encoded_frame = on_frame
    rtts: list[float] = []
    try:
        await speaker.publish(track, "probe")
        await asyncio.sleep(1.0)  # the probe's first packets ride on ICE/DTLS set-up
        latencies.clear()
        lag0 = await asyncio.to_thread(scrape, f"{base}/metrics")
        cpu0 = sum(server.cpu_times()[:2])
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            rtts.append(await listener.ping())
            await asyncio.sleep(0.05)
        cpu = (sum(server.cpu_times()[:2]) - cpu0) / seconds
        lag = loop_lag(lag0, await asyncio.to_thread(scrape, f"{base}/metrics"))
    finally:
        await speaker.leave()
        await listener.leave()
    return cpu, rtts, latencies, lag


def loop_lag(before: dict, after: dict) -> str:
    """p50/p99 of the server's own event-loop lag over the window, as the histogram bucket
    bounds that contain them (roomreel_event_loop_lag_seconds)."""
    name = "roomreel_event_loop_lag_seconds_bucket"
    bounds = sorted(
        (float(dict(labels)["le"]), after[(n, labels)] - before.get((n, labels), 0.0))
        for (n, labels) in after
        if n == name
    )
    total = bounds[-1][1] if bounds else 0
    if not total:
        return "n/a"

    def bound(q: float) -> str:
        le = next(le for le, count in bounds if count >= q * total)
        return f"{le * 1000:g}" if le != float("inf") else ">1000"

    return f"<={bound(0.5)}/<={bound(0.99)}"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", default="1,5,10,20")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument(
        "--nodes", help="e.g. 1,2: the same rooms on a cluster of each size (bench/sfu_cluster.py)"
    )
    parser.add_argument("--rooms", type=int, default=2, help="with --nodes: rooms to spread")
    args = parser.parse_args()
    if args.nodes:
        from bench import sfu_cluster

        subscribers = int(args.subscribers.split(",")[0]) if "," not in args.subscribers else 4
        sfu_cluster.main([int(n) for n in args.nodes.split(",")], args.rooms, subscribers, args.seconds)
        return
    counts = [int(x) for x in args.subscribers.split(",")]
    work = Path(tempfile.mkdtemp(prefix="roomreel-bench-sfu-"))
    clip = encode_clip(work / "clip720.webm", seconds=int(WARMUP + args.seconds + 8))
    server = ServeProcess.prepare(work / "data")
    server.start()
    try:
        proc = psutil.Process(server.proc.pid)
        print(f"720p VP8 publisher, {args.seconds:.0f} s windows, {os.cpu_count()} cores")
        print(
            f"{'subs':>5} {'CPU-s/s':>8} {'per stream':>11} {'per stream-pub':>15}"
            f" {'ping p50/p99 ms':>16} {'loop lag p50/p99':>18} {'audio hop p50/p99 ms':>21}"
        )
        baseline = None
        for n in [0, *counts]:
            room = f"bench-{n}-{time.time_ns()}"
            duration = WARMUP + args.seconds + 5
            procs = [
                bot(
                    base := server.base,
                    server.token("publisher", room),
                    room,
                    "publisher",
                    duration,
                    str(clip),
                )
            ]
            procs += [
                bot(base, server.token(f"s{i}", room), room, f"s{i}", duration, "none") for i in range(n)
            ]
            time.sleep(WARMUP)
            tokens = {who: server.token(who, room) for who in ("listener", "speaker")}
            cpu, rtts, latencies, lag = asyncio.run(probe(base, tokens, args.seconds, proc))
            for p in procs:
                p.wait(60)
            ping = f"{percentile(rtts, 50):.1f}/{percentile(rtts, 99):.1f}"
            hop = f"{percentile(latencies, 50):.1f}/{percentile(latencies, 99):.1f}"
            if n == 0:
                baseline = cpu
                print(
                    f"{0:>5} {cpu:>8.3f} {cpu / 2:>11.4f} {'(baseline)':>15} {ping:>16} {lag:>18} {hop:>21}"
                )
                continue
            print(
                f"{n:>5} {cpu:>8.3f} {cpu / (n + 2):>11.4f} {(cpu - baseline) / n:>15.4f} {ping:>16} {lag:>18} {hop:>21}",
                flush=True,
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
