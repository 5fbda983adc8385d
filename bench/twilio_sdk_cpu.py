"""The SFU's CPU per forwarded stream with twilio-video.js subscribers against /v1/signal ones.

`roomreel serve` runs in its own process; one `roomreel bot` publishes a pre-encoded 720p VP8
clip (about 2.5 Mbps, never re-encoded) with no audio. Then, alternately, N subscribers of each
kind join, receive for a steady window and leave:
- `/v1/signal`: N `roomreel bot` processes that publish nothing and receive without decoding;
- twilio-video.js: N pages of the real SDK (npm 2.36.0) in one headless Chromium, connected
  with no local tracks, receiving the video (Chromium decodes it; the SFU's work is the same).
The server's CPU-seconds per media-second over each window, divided by N, is the cost per
forwarded stream. Target: SDK within 10 % of /v1/signal.

On one machine the Chromium that decodes the SDK pages' video would compete with the server for
the CPU (the bots do not decode), which made the SDK's figure meaningless. So, by default, the
server runs alone on the first core and everything else (this script, the publisher, the bots,
Chromium) on the others: each kind of subscriber then meets a server with the same core to
itself (`--no-pin` measures without it).

    python bench/twilio_sdk_cpu.py [--subscribers 3] [--seconds 10] [--rounds 2] [--no-pin]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.recorder import WARMUP, encode_clip  # noqa: E402
from bench.sfu import bot  # noqa: E402
from tests.live_server import ServeProcess  # noqa: E402
from tests.metrics_scrape import scrape, value  # noqa: E402
from tests.pipeline.sfu.twilio.sdk_browser import SdkBrowser, connect  # noqa: E402

ROOM = "cpu"


FEEDBACK: dict[str, list[tuple[float, float]]] = {}  # kind -> (retransmissions/s, keyframe requests/s)


def feedback(base: str) -> tuple[float, float]:
    """The server's answers to its subscribers' loss feedback so far: packets resent on NACKs,
    and keyframe requests (PLI/FIR) received from subscribers."""
    samples = scrape(f"{base}/metrics")
    return (
        value(samples, "roomreel_sfu_retransmissions_total"),
        value(samples, "roomreel_sfu_keyframe_requests_total", direction="from_subscribers"),
    )


def window(server: psutil.Process, seconds: float, base: str | None = None, kind: str = "") -> float:
    """CPU-seconds per second of the server over `seconds` of wall time."""
    said = feedback(base) if base else (0.0, 0.0)
    before = server.cpu_times()
    time.sleep(seconds)
    after = server.cpu_times()
    if base:
        now = feedback(base)
        FEEDBACK.setdefault(kind, []).append(((now[0] - said[0]) / seconds, (now[1] - said[1]) / seconds))
    return (after.user + after.system - before.user - before.system) / seconds


def with_bots(serve: ServeProcess, proc: psutil.Process, n: int, seconds: float) -> float:
    bots = [
        bot(serve.base, serve.token(f"sub{i}", ROOM), ROOM, f"sub{i}", seconds + WARMUP + 5, "none")
        for i in range(n)
    ]
    try:
        time.sleep(WARMUP)
        return window(proc, seconds, serve.base, "/v1/signal")
    finally:
        for b in bots:
            b.terminate()
            b.wait(30)


def with_sdk(serve: ServeProcess, browser: SdkBrowser, proc: psutil.Process, n: int, seconds: float) -> float:
    pages = []
    try:
        for i in range(n):
            page = browser.page()
            joined = connect(page, serve.token(f"sdk{i}", ROOM), name=ROOM, audio=False, video=False)
            if not joined.get("ok"):
                raise SystemExit(f"the SDK could not join: {joined}")
            pages.append(page)
        time.sleep(WARMUP)
        return window(proc, seconds, serve.base, "twilio-video.js")
    finally:
        for page in pages:
            page.evaluate("() => window.tv.leave()")
            page.context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="share every core")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="roomreel-bench-"))
    clip = encode_clip(work / "clip.webm")
    serve = ServeProcess.prepare(work / "data")
    cores = sorted(os.sched_getaffinity(0))
    pinned = args.pin and len(cores) > 1
    if pinned:
        os.sched_setaffinity(0, {cores[0]})  # the server and every thread it starts inherit it
    serve.start()
    if pinned:
        os.sched_setaffinity(0, set(cores[1:]))  # what starts from here on: bots, Chromium
        print(f"server on core {cores[0]}, subscribers and the browser on {cores[1:]}")
    browser = SdkBrowser(serve.base)
    total = args.rounds * 2 * (args.seconds + WARMUP + 10)
    publisher = bot(serve.base, serve.token("publisher", ROOM), ROOM, "publisher", total + 60, str(clip))
    # The first subscriber switches on the publisher's whole receive path (frame assembly, the
    # forwarding queue), a fixed cost of its own: one `/v1/signal` subscriber stays for the whole
    # run, so each kind's figure is the cost of the streams it adds.
    anchor = bot(serve.base, serve.token("anchor", ROOM), ROOM, "anchor", total + 60, "none")
    try:
        proc = psutil.Process(serve.proc.pid)
        time.sleep(WARMUP)
        idle = window(proc, 5.0)
        results: dict[str, list[float]] = {"/v1/signal": [], "twilio-video.js": []}
        for n in range(args.rounds):
            for kind in (
                ("/v1/signal", "twilio-video.js") if n % 2 == 0 else ("twilio-video.js", "/v1/signal")
            ):
                if kind == "/v1/signal":
                    used = with_bots(serve, proc, args.subscribers, args.seconds)
                else:
                    used = with_sdk(serve, browser, proc, args.subscribers, args.seconds)
                results[kind].append((used - idle) / args.subscribers)
        print(f"publisher and one subscriber: {idle:.4f} CPU-s/s (ingest and fixed costs)")
        for kind, values in results.items():
            print(f"{kind:16} {statistics.median(values):.4f} CPU-s/s per forwarded 720p stream "
                  f"(rounds: {', '.join(f'{v:.4f}' for v in values)})")  # fmt: skip
        for kind, rates in FEEDBACK.items():
            print(f"{kind:16} the server resent {statistics.median(r for r, _ in rates):.1f} packets/s on NACKs "
                  f"and got {statistics.median(k for _, k in rates):.2f} keyframe requests/s")  # fmt: skip
        sdk, ours = (statistics.median(results[k]) for k in ("twilio-video.js", "/v1/signal"))
        print(f"ratio twilio-video.js / /v1/signal: {sdk / ours:.3f} (target within 10 %)")
    finally:
        for process in (publisher, anchor):
            process.terminate()
            process.wait(30)
        browser.close()
        serve.stop()


if __name__ == "__main__":
    main()
