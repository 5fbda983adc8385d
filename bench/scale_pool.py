"""Split rendering speed-up: one long 4-participant room with 1, 2 and 4 processes.

    python bench/scale_pool.py [--minutes 20] [--window 120] [--keep DIR]

Prints the single-pass time, each split time and the speed-up against the single pass.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import layouts  # noqa: E402
from pipeline.compose import render  # noqa: E402
from pipeline.compose.split import render_split  # noqa: E402
from pipeline.media.manifest import load_manifest  # noqa: E402
from pipeline.media.synthetic import COLORS, Participant, make_room  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--window", type=float, default=120.0, help="seconds per split window")
    parser.add_argument("--keep", help="keep the room and outputs here")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="roomreel-scale-"))
    room = work / "room"
    seconds = args.minutes * 60
    try:
        if not (room / "room.json").exists():
            print(f"building a 4 x {seconds:.0f} s 640x480 room ...", flush=True)
            make_room(
                room,
                [
                    Participant(
                        f"p{i}",
                        COLORS[i],
                        0.0,
                        seconds,
                        tone_hz=300 + 100 * i,
                        size=(640, 480),
                        textured=True,
                    )
                    for i in range(4)
                ],
                fps=15,
            )
        manifest = load_manifest(room)
        plan = layouts.plan_for_manifest(
            json.loads((room / "room.json").read_text()), "grid", "1280x720", ["*"]
        )
        started = time.monotonic()
        render(manifest, plan, work / "single.mp4")
        single = time.monotonic() - started
        print(f"media {seconds:.0f} s; single pass {single:.1f} s ({seconds / single:.2f}x realtime)")
        for processes in (1, 2, 4):
            started = time.monotonic()
            render_split(
                manifest,
                plan,
                work / f"split-{processes}.mp4",
                window_seconds=args.window,
                processes=processes,
            )
            took = time.monotonic() - started
            print(
                f"split, {processes} process(es): {took:.1f} s  speed-up vs single pass {single / took:.2f}x"
            )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
