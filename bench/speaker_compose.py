"""A composition that follows the speaker against the same room's grid, in the same run.

Builds a 4-participant 640x480 room (textured VP8 at 30 fps) whose participants talk in turns of
5 s, then composes it to 1280x720 mp4 with the `speaker` preset and with `grid`, alternately,
`--runs` times each. The speaker run includes measuring every track's levels from its decoded
audio (the room has no levels files, as an imported room has none), which the first run caches.
Prints each layout's median wall time, realtime factor and peak RSS, and the ratio
speaker/grid. Target: <= 1.0 (at least as fast as the grid).

    python bench/speaker_compose.py [--seconds 60] [--runs 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.compose import FPS, run  # noqa: E402
from bench.compose_table import roomreel_command  # noqa: E402
from tests.synthetic_room import COLORS, Participant, make_room  # noqa: E402

TURN = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--keep", help="keep the room and outputs in this directory")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="roomreel-bench-"))
    room = work / "room"
    try:
        if not (room / "room.json").exists():
            print(f"building a 4 x {args.seconds:.0f} s 640x480 room with turns of {TURN:g} s in {room} ...")
            people = []
            for i in range(4):
                turns = [(t, t + TURN) for t in range(int(i * TURN), int(args.seconds), int(4 * TURN))]
                people.append(Participant(f"p{i}", COLORS[i], 0.0, args.seconds, tone_hz=300 + 100 * i,
                                          size=(640, 480), textured=True, speech=turns))  # fmt: skip
            make_room(room, people, fps=FPS)
        times: dict[str, list[float]] = {"grid": [], "speaker": []}
        rss: dict[str, list[float]] = {"grid": [], "speaker": []}
        for n in range(args.runs):
            for layout in ("speaker", "grid") if n % 2 == 0 else ("grid", "speaker"):
                if layout == "speaker" and n == 0:
                    for cached in room.glob("*.levels.json"):
                        cached.unlink()  # the first speaker run measures the levels
                elapsed, peak = run(roomreel_command(room, layout, work / f"{layout}.mp4"))
                times[layout].append(elapsed)
                rss[layout].append(peak)
        for layout in ("grid", "speaker"):
            t = statistics.median(times[layout])
            print(f"{layout:8} {t:7.2f} s  {args.seconds / t:5.2f}x realtime  peak RSS {max(rss[layout]):5.0f} MB"
                  f"  runs {', '.join(f'{x:.2f}' for x in times[layout])}")  # fmt: skip
        ratio = statistics.median(times["speaker"]) / statistics.median(times["grid"])
        print(f"ratio speaker/grid {ratio:.3f}  (target <= 1.0; the first speaker run measured the levels)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
