"""`roomreel import-twilio` throughput on loopback, and its peak memory against file size.

Builds a source roomreel (its own data directory and SQLite database in a temporary directory,
`roomreel serve` on 127.0.0.1) holding `--rooms` rooms of `--recordings` VP8 recordings each,
loaded with `roomreel import`'s `import_room` (no WebRTC): a 2 s textured 320x240 clip at
400 kbps from the synthetic-room generator, repeated with `ffmpeg -c copy` (nothing encoded)
to `--seconds` per file, about 50 KB per second of media. The same rooms are loaded a second
time with files `--scale` times longer.

For each concurrency in `--concurrency` it runs `python -m pipeline.cli import-twilio --api-url
SOURCE --concurrency N` (TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN of the source's account, as the
tests do) into a fresh empty target, `--runs` times in alternating order, and prints the median
wall time (the whole command: start-up, listing, downloads, verification, rows), the bytes
copied (recording and composition media in the target's storage), MB/s, recordings/s, the same
rates without the start-up (an import that matches no room, timed in every run), the peak RSS
of the command and its children (psutil, every 50 ms) and the CPU-seconds of the command and of
the source server. Then the memory check: the rooms with `--scale`x larger files imported at
`--memory-concurrency`, alternating with the normal ones. Target: peak RSS with the larger files
<= 1.2x the peak with the normal ones (media is streamed to disk, never held whole). The
throughput figures have no target. `--concurrency` bounds the downloads in flight across rooms
(up to 4 rooms are imported at once).

    python bench/import_twilio.py [--rooms 8] [--recordings 4] [--seconds 80] [--scale 4]
        [--concurrency 1,4,8] [--memory-concurrency 4] [--runs 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.config import Settings  # noqa: E402
from pipeline.importer import import_room  # noqa: E402
from pipeline.signing_key import deployment_storage  # noqa: E402
from tests.live_server import ServeProcess  # noqa: E402
from tests.synthetic_room import COLORS, Participant, make_room  # noqa: E402

CLIP_SECONDS = 2.0  # one keyframe interval of the generator's encoder (gop = 2 s)


def room_dir(directory: Path, recordings: int, seconds: float, ffmpeg: str) -> Path:
    """A room of `recordings` video-only tracks of `seconds` each: short clips, repeated."""
    if (directory / "room.json").exists():
        return directory
    people = [Participant(f"p{i}", COLORS[i % len(COLORS)], 0.0, CLIP_SECONDS, audio=False, textured=True)
              for i in range(recordings)]  # fmt: skip
    manifest = make_room(directory, people, room_name=directory.name, duration=seconds)
    for rec in manifest["recordings"]:
        clip = directory / rec["media"]
        longer = clip.with_suffix(".long.mkv")
        subprocess.run([ffmpeg, "-y", "-loglevel", "error", "-stream_loop", "-1", "-i", str(clip), "-c", "copy",
                        "-t", str(seconds), str(longer)], check=True)  # fmt: skip
        longer.replace(clip)
        rec["end"] = seconds
    (directory / "room.json").write_text(json.dumps(manifest, indent=2))
    return directory


def peak_rss(proc: subprocess.Popen, every: float = 0.05) -> threading.Thread:
    """Polls the process and its children until it exits; the peak (bytes) ends in `.peak`."""

    def poll() -> None:
        try:
            parent = psutil.Process(proc.pid)
        except psutil.NoSuchProcess:
            return
        while proc.poll() is None:
            total = 0
            try:
                for p in [parent, *parent.children(recursive=True)]:
                    total += p.memory_info().rss
            except psutil.Error:
                pass
            thread.peak = max(thread.peak, total)
            time.sleep(every)

    thread = threading.Thread(target=poll, daemon=True)
    thread.peak = 0
    thread.start()
    return thread


def import_once(
    server: ServeProcess, rooms: list[str], concurrency: int, target: Path, *extra: str
) -> dict[str, float]:
    shutil.rmtree(target, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROOMREEL_", "TWILIO_"))}
    env |= {"ROOMREEL_DATA_DIR": str(target), "TWILIO_ACCOUNT_SID": server.account_sid,
            "TWILIO_AUTH_TOKEN": server.auth_token}  # fmt: skip
    cmd = [sys.executable, "-m", "pipeline.cli", "import-twilio", "--api-url", server.base,
           "--concurrency", str(concurrency), *extra] + [a for sid in rooms for a in ("--room", sid)]  # fmt: skip
    serving = psutil.Process(server.proc.pid)
    server_cpu, import_cpu = sum(serving.cpu_times()[:2]), _children_cpu()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    poller = peak_rss(proc)
    out, err = proc.communicate(timeout=1800)
    elapsed = time.perf_counter() - started
    import_cpu, server_cpu = _children_cpu() - import_cpu, sum(serving.cpu_times()[:2]) - server_cpu
    poller.join()
    copied = re.search(r"imported (\d+) rooms .*?, (\d+) recordings, (\d+) compositions", out)
    if proc.returncode != 0 or not copied or int(copied[1]) != len(rooms) or "not copied" in out:
        raise SystemExit(f"import-twilio failed ({proc.returncode}):\n{out}\n{err[-3000:]}")
    media = [f for f in (target / "storage").rglob("*") if f.is_file() and f.name != "room.json"]
    size = sum(f.stat().st_size for f in media)
    shutil.rmtree(target, ignore_errors=True)
    return {
        "seconds": elapsed,
        "bytes": size,
        "recordings": int(copied[2]) + int(copied[3]),
        "rss": poller.peak,
        "cpu": import_cpu,
        "server_cpu": server_cpu,
    }


def _children_cpu() -> float:
    """CPU-seconds of this process's waited-for children (the import, once it has exited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def row(label: str, m: dict[str, float], fixed: float) -> str:
    copying = m["seconds"] - fixed
    return (f"{label:>16} {m['seconds']:7.2f}s {m['bytes'] / 1e6:8.1f} {m['recordings']:5.0f} "
            f"{m['bytes'] / 1e6 / m['seconds']:7.1f} {m['recordings'] / m['seconds']:7.2f} "
            f"{m['bytes'] / 1e6 / copying:8.1f} {m['recordings'] / copying:8.2f} {m['rss'] / 1e6:7.0f} "
            f"{m['cpu']:7.1f} {m['server_cpu']:7.1f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rooms", type=int, default=8)
    parser.add_argument("--recordings", type=int, default=4, help="per room")
    parser.add_argument("--seconds", type=float, default=80.0, help="media seconds per recording")
    parser.add_argument(
        "--scale", type=float, default=4.0, help="how much larger the memory check's files are"
    )
    parser.add_argument("--concurrency", default="1,4,8")
    parser.add_argument("--memory-concurrency", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", help="keep the rooms and the source in this directory")
    args = parser.parse_args()

    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="roomreel-bench-import-"))
    work.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(work / "source", ignore_errors=True)
    server = ServeProcess.prepare(work / "source")
    try:
        t0 = time.perf_counter()
        storage = deployment_storage(Settings.from_env(server.env), server.db)
        small_room = room_dir(work / f"room-{args.seconds:g}s", args.recordings, args.seconds, ffmpeg)
        large_room = room_dir(
            work / f"room-{args.seconds * args.scale:g}s", args.recordings, args.seconds * args.scale, ffmpeg
        )
        small = [import_room(server.db, storage, server.account_sid, small_room) for _ in range(args.rooms)]
        large = [import_room(server.db, storage, server.account_sid, large_room) for _ in range(args.rooms)]
        server.start()
        file_mb = {name: sum(f.stat().st_size for f in d.glob("*.mkv")) / args.recordings / 1e6
                   for name, d in (("small", small_room), ("large", large_room))}  # fmt: skip
        print(f"source: {args.rooms} rooms x {args.recordings} VP8 recordings of {file_mb['small']:.2f} MB "
              f"({args.seconds:.0f} s), and of {file_mb['large']:.2f} MB ({args.seconds * args.scale:.0f} s); "
              f"built in {time.perf_counter() - t0:.0f} s; {os.cpu_count()} cores; median of {args.runs} runs")  # fmt: skip
        levels = [int(c) for c in args.concurrency.split(",")]
        results: dict[str, list[dict[str, float]]] = {}
        for n in range(args.runs):
            # Start-up alone (imports, the target's migrations, hooks and settings): no room matches.
            results.setdefault("empty", []).append(
                import_once(server, [], levels[0], work / "target", "--since", "2100-01-01T00:00:00Z")
            )
            for c in levels if n % 2 == 0 else levels[::-1]:
                results.setdefault(f"small/{c}", []).append(import_once(server, small, c, work / "target"))
            pair = ("small", "large") if n % 2 == 0 else ("large", "small")
            for which in pair:
                rooms = small if which == "small" else large
                key = f"{which}/{args.memory_concurrency}/memory"
                results.setdefault(key, []).append(
                    import_once(server, rooms, args.memory_concurrency, work / "target")
                )
        fixed = median_of(results["empty"])
        print(f"start-up with nothing to copy: {fixed['seconds']:.2f} s, {fixed['cpu']:.1f} CPU-s, "
              f"peak RSS {fixed['rss'] / 1e6:.0f} MB; "
              "'after start-up' columns leave it out")  # fmt: skip
        print(f"{'downloads':>16} {'wall':>8} {'MB':>8} {'recs':>5} {'MB/s':>7} {'recs/s':>7} "
              f"{'after start-up: MB/s':>17} {'recs/s':>8} {'peak MB':>7} {'CPU-s':>7} {'server':>7}")  # fmt: skip
        for c in levels:
            print(row(f"{c}", median_of(results[f"small/{c}"]), fixed["seconds"]))
        normal = median_of(results[f"small/{args.memory_concurrency}/memory"])
        bigger = median_of(results[f"large/{args.memory_concurrency}/memory"])
        print(row(f"{args.memory_concurrency}, {file_mb['small']:.1f} MB files", normal, fixed["seconds"]))
        print(row(f"{args.memory_concurrency}, {file_mb['large']:.1f} MB files", bigger, fixed["seconds"]))
        ratio = bigger["rss"] / normal["rss"]
        peaks = {k: [round(r["rss"] / 1e6) for r in v] for k, v in results.items()}
        print(f"every run's peak RSS (MB): {peaks}")
        print(f"peak RSS {bigger['rss'] / 1e6:.0f} MB with {args.scale:g}x larger files against "
              f"{normal['rss'] / 1e6:.0f} MB: ratio {ratio:.3f} (target <= 1.2: {'met' if ratio <= 1.2 else 'NOT met'})")  # fmt: skip
        first, best = (
            median_of(results[f"small/{levels[0]}"]),
            max((median_of(results[f"small/{c}"]) for c in levels), key=lambda m: m["bytes"] / m["seconds"]),
        )
        per_mb = [(m["cpu"] - fixed["cpu"]) / (m["bytes"] / 1e6) for m in (first, bigger)]
        print(f"the import's CPU after start-up: {per_mb[0] * 1000:.1f} ms per MB ({1 / per_mb[0]:.0f} MB/s "
              f"per core) with {levels[0]} download(s), {per_mb[1] * 1000:.1f} ms per MB with the larger files; "
              f"the source server's {bigger['server_cpu'] / (bigger['bytes'] / 1e6) * 1000:.1f} ms per MB")  # fmt: skip
        print(f"throughput {first['bytes'] / 1e6 / first['seconds']:.1f} MB/s with {levels[0]} download(s) at once, "
              f"best {best['bytes'] / 1e6 / best['seconds']:.1f} MB/s")  # fmt: skip
    finally:
        server.stop()
        server.db.engine.dispose()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
