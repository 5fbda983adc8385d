"""Per-job overhead on Redis: how long a tiny composition waits between enqueue and start.

    python bench/overhead.py [--jobs 20]

Runs one `roomreel worker` against Redis (db 14), imports a 1-second audio-only room, then for
each job measures enqueue -> completed, and subtracts the same job's render time measured
in-process. Prints the median and the 90th percentile of the overhead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="roomreel-overhead-"))
    env = {
        **os.environ,
        "ROOMREEL_DATA_DIR": str(work / "data"),
        "ROOMREEL_BROKER_URL": "redis://127.0.0.1:6379/14",
    }
    os.environ.update(env)
    from tests.services import ensure_redis

    ensure_redis()
    import redis

    redis.Redis(db=14).flushdb()
    from pipeline.accounts import ensure_account
    from pipeline.config import Settings
    from pipeline.db import Database
    from pipeline.db.models import Composition, utcnow
    from pipeline.importer import import_room
    from pipeline.jobs.compose import run_composition
    from pipeline.media.synthetic import COLORS, Participant, make_room
    from pipeline.sids import new_sid
    from pipeline.signing_key import deployment_storage

    settings = Settings.from_env()
    db = Database(settings.database_url)
    db.upgrade()
    account, _ = ensure_account(db, settings)
    storage = deployment_storage(settings, db)
    make_room(work / "room", [Participant("a", COLORS[0], 0.0, 1.0, video=False)])
    room_sid = import_room(db, storage, account.sid, work / "room")

    def new_composition() -> str:
        sid = new_sid("CJ")
        with db.session() as session:
            session.add(
                Composition(
                    sid=sid,
                    account_sid=account.sid,
                    room_sid=room_sid,
                    audio_sources=["*"],
                    format="mp4",
                    date_created=utcnow(),
                )
            )
        return sid

    render_times = []
    for _ in range(5):
        sid = new_composition()
        started = time.monotonic()
        run_composition(db, storage, sid, "bench", work / "spool")
        render_times.append(time.monotonic() - started)
    render = statistics.median(render_times)

    worker = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "worker", "--reconcile-every", "60"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        from workers.actors import dispatch_composition

        warm = new_composition()
        dispatch_composition(warm)
        _wait(db, warm)
        overheads = []
        for _ in range(args.jobs):
            sid = new_composition()
            started = time.monotonic()
            dispatch_composition(sid)
            _wait(db, sid)
            overheads.append(time.monotonic() - started - render)
        overheads.sort()
        print(f"jobs {args.jobs}; in-process job time {render * 1000:.0f} ms")
        print(
            f"queue overhead on Redis: median {statistics.median(overheads) * 1000:.0f} ms, "
            f"p90 {overheads[int(len(overheads) * 0.9) - 1] * 1000:.0f} ms"
        )
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
        shutil.rmtree(work, ignore_errors=True)


def _wait(db, sid: str) -> None:
    from pipeline.db.models import Composition

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with db.session() as session:
            if session.get(Composition, sid).status in ("completed", "failed"):
                return
        time.sleep(0.005)
    raise SystemExit(f"composition {sid} did not finish")


if __name__ == "__main__":
    main()
