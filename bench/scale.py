"""The job pipeline's benchmark: one long 4-participant room composed by 1, 2 and 4 real
`roomreel worker` processes on Redis with split rendering (bench/scale_workers.py: wall time,
realtime factor and speed-up against one worker), then the per-job overhead from enqueue to
start on Redis (bench/overhead.py: median and p90 over tiny jobs).

    python bench/scale.py [--minutes 20] [--window 120] [--workers 1,2,4] [--jobs 20]

bench/scale_pool.py renders the same windows on a local process pool instead (no queue).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", default="20")
    parser.add_argument("--window", default="120", help="seconds of media per split job")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--jobs", default="20", help="tiny jobs for the overhead measurement")
    args = parser.parse_args()
    print("== split rendering on real workers", flush=True)
    scaled = subprocess.run(
        [sys.executable, str(HERE / "scale_workers.py"), "--minutes", args.minutes,
         "--window", args.window, "--workers", args.workers],
    )  # fmt: skip
    print("== per-job overhead on Redis (enqueue -> start)", flush=True)
    overhead = subprocess.run([sys.executable, str(HERE / "overhead.py"), "--jobs", args.jobs])
    return scaled.returncode or overhead.returncode


if __name__ == "__main__":
    sys.exit(main())
