"""The SFU's CPU per forwarded stream with twilio-video.js subscribers against /v1/signal ones.

`roomreel serve` runs in its own process; one `roomreel bot` publishes a pre-encoded 720p VP8
clip (about 3 Mbps, never re-encoded) with no audio, and one `/v1/signal` bot subscribes for the
whole run. Then, in turn, N subscribers of each kind join, receive for a steady window (opened
once the server forwards exactly their streams) and leave:
- `/v1/signal page`: N pages of roomreel's own `/rooms/NAME?publish=0` in one headless Chromium;
- twilio-video.js: N pages of the real SDK (npm 2.36.0) in the same Chromium, connected with no
  local tracks;
- `/v1/signal bots`: N `roomreel bot` processes that publish nothing and receive without decoding.
The server's CPU-seconds per media-second over each window, less the standing load, divided by
N, is the cost per added stream; the server's resends on NACKs are printed beside it. Target:
SDK within 10 % of `/v1/signal`; the fair pair is the two Chromium kinds (same WebRTC client,
same decoding), the bots (Python, on a shared core) are for reference.

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
PAGE, SDK, BOTS = "/v1/signal page", "twilio-video.js", "/v1/signal bots"  # the kinds of subscriber


FEEDBACK: dict[str, list[tuple[float, float]]] = {}  # kind -> (retransmissions/s, keyframe requests/s)


def feedback(base: str) -> tuple[float, float]:
    """The server's answers to its subscribers' loss feedback so far: packets resent on NACKs,
    and keyframe requests (PLI/FIR) received from subscribers."""
    samples = scrape(f"{base}/metrics")
    return (
        value(samples, "roomreel_sfu_retransmissions_total"),
        value(samples, "roomreel_sfu_keyframe_requests_total", direction="from_subscribers"),
    )


def wait_for_streams(base: str, count: int, timeout: float = 60.0) -> None:
    """Until the server forwards exactly `count` streams: a subscriber takes seconds to start (a
    window opened before it receives measures less than it claims), and one that left takes a
    moment to be gone."""
    deadline = time.monotonic() + timeout
    while value(scrape(f"{base}/metrics"), "roomreel_forwarded_streams") != count:
        if time.monotonic() > deadline:
            raise SystemExit(f"the server never forwarded {count} streams")
        time.sleep(0.25)


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


def steady_window(serve: ServeProcess, proc: psutil.Process, n: int, seconds: float, kind: str) -> float:
    """The server's CPU once the phase's `n` subscribers all receive and have warmed up."""
    wait_for_streams(serve.base, n + 1)
    time.sleep(WARMUP)
    return window(proc, seconds, serve.base, kind)


def with_bots(serve: ServeProcess, proc: psutil.Process, n: int, seconds: float) -> float:
    bots = [
        bot(serve.base, serve.token(f"sub{i}", ROOM), ROOM, f"sub{i}", seconds + WARMUP + 65, "none")
        for i in range(n)
    ]
    try:
        return steady_window(serve, proc, n, seconds, BOTS)
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
        return steady_window(serve, proc, n, seconds, SDK)
    finally:
        for page in pages:
            page.evaluate("() => window.tv.leave()")
            page.context.close()


def with_room_pages(
    serve: ServeProcess, browser: SdkBrowser, proc: psutil.Process, n: int, seconds: float
) -> float:
    """roomreel's own page (`/rooms/NAME?publish=0`) in the same Chromium: a `/v1/signal` client
    that decodes and answers loss as the SDK does, so the two protocols meet on equal terms."""
    contexts = []
    try:
        for i in range(n):
            context = browser.browser.new_context()
            # The page offers the SFU its loopback candidates only, as the test pages do.
            context.add_init_script("window.roomreelConfig = {onlyCandidates: ['127.0.0.1']};")
            page = context.new_page()
            page.goto(
                f"{serve.base}/rooms/{ROOM}?identity=web{i}&publish=0&token={serve.token(f'web{i}', ROOM)}"
            )
            page.wait_for_function("window.roomreel.status === 'joined'", timeout=20_000)
            contexts.append(context)
        return steady_window(serve, proc, n, seconds, PAGE)
    finally:
        for context in contexts:
            context.close()


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
    total = args.rounds * 3 * (args.seconds + WARMUP + 40)
    publisher = bot(serve.base, serve.token("publisher", ROOM), ROOM, "publisher", total + 60, str(clip))
    # The first subscriber switches on the publisher's whole receive path (frame assembly, the
    # forwarding queue), a fixed cost of its own: one `/v1/signal` subscriber stays for the whole
    # run, so each kind's figure is the cost of the streams it adds.
    anchor = bot(serve.base, serve.token("anchor", ROOM), ROOM, "anchor", total + 60, "none")
    try:
        proc = psutil.Process(serve.proc.pid)
        wait_for_streams(serve.base, 1)  # the publisher's video reaches the standing subscriber
        time.sleep(WARMUP)
        idle = window(proc, 5.0)
        kinds = [PAGE, SDK, BOTS]
        results: dict[str, list[float]] = {kind: [] for kind in kinds}
        for n in range(args.rounds):
            for kind in kinds[n % 3 :] + kinds[: n % 3]:  # each round starts with another kind
                if kind == BOTS:
                    used = with_bots(serve, proc, args.subscribers, args.seconds)
                elif kind == PAGE:
                    used = with_room_pages(serve, browser, proc, args.subscribers, args.seconds)
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
        sdk, page, bots = (statistics.median(results[k]) for k in (SDK, PAGE, BOTS))
        print(
            f"ratio twilio-video.js / /v1/signal page: {sdk / page:.3f} (target within 10 %; both in Chromium)"
        )
        print(
            f"ratio twilio-video.js / /v1/signal bots: {sdk / bots:.3f} (Python subscribers, for reference)"
        )
    finally:
        for process in (publisher, anchor):
            process.terminate()
            process.wait(30)
        browser.close()
        serve.stop()


if __name__ == "__main__":
    main()
