"""Split rendering on real `roomreel worker` processes: one long 4-participant room composed
with 1, 2 and 4 workers on Redis, each worker one process with one thread.

    python bench/scale_workers.py [--minutes 20] [--window 120]

For each worker count it imports the room, enqueues one 1280x720 grid composition through the
queue (split into windows because it is longer than ROOMREEL_SPLIT_SECONDS), starts the workers
and waits for `completed`. Prints the wall time from enqueue to completed and the speed-up
against one worker. PostgreSQL (database `test` on 127.0.0.1) holds the state, so every worker
process shares it as on several hosts; Redis db 14 is the broker.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--window", type=float, default=120.0, help="seconds of media per split job")
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="roomreel-scale-workers-"))
    from tests.services import ensure_postgres, ensure_redis

    ensure_redis()
    admin = ensure_postgres()
    import psycopg
    import redis

    database = f"roomreel_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    env = {
        **os.environ,
        "ROOMREEL_DATA_DIR": str(work / "data"),
        "ROOMREEL_DATABASE_URL": admin.rsplit("/", 1)[0] + "/" + database,
        "ROOMREEL_BROKER_URL": "redis://127.0.0.1:6379/14",
        "ROOMREEL_SPLIT_SECONDS": str(min(600.0, args.window * 2)),
        "ROOMREEL_SPLIT_WINDOW": str(args.window),
    }
    os.environ.update(env)
    from pipeline.accounts import ensure_account
    from pipeline.config import Settings
    from pipeline.db import Database
    from pipeline.db.models import Composition, utcnow
    from pipeline.importer import import_room
    from pipeline.media.synthetic import COLORS, Participant, make_room
    from pipeline.sids import new_sid
    from pipeline.signing_key import deployment_storage

    settings = Settings.from_env()
    db = Database(settings.database_url)
    db.upgrade()
    account, _ = ensure_account(db, settings)
    storage = deployment_storage(settings, db)
    seconds = args.minutes * 60
    print(f"building a 4 x {seconds:.0f} s 640x480 room ...", flush=True)
    people = [
        Participant(f"p{i}", COLORS[i], 0.0, seconds, tone_hz=300 + 100 * i, size=(640, 480), textured=True)
        for i in range(4)
    ]
    make_room(work / "room", people, fps=15)
    room_sid = import_room(db, storage, account.sid, work / "room")
    from workers.actors import dispatch_composition

    times: dict[int, float] = {}
    try:
        for count in [int(x) for x in args.workers.split(",")]:
            redis.Redis(db=14).flushdb()
            sid = new_sid("CJ")
            with db.session() as session:
                session.add(
                    Composition(
                        sid=sid, account_sid=account.sid, room_sid=room_sid, audio_sources=["*"],
                        video_layout={"grid": {"video_sources": ["*"]}}, resolution="1280x720",
                        format="mp4", date_created=utcnow(),
                    )
                )  # fmt: skip
            workers = [
                subprocess.Popen(
                    [sys.executable, "-m", "pipeline.cli", "worker", "--processes", "1", "--threads", "1"],
                    env=env,
                    start_new_session=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )  # fmt: skip
                for _ in range(count)
            ]
            time.sleep(3)  # workers up before the clock starts
            started = time.monotonic()
            dispatch_composition(sid)
            status = _wait(db, sid)
            times[count] = time.monotonic() - started
            for worker in workers:
                os.killpg(worker.pid, signal.SIGTERM)
            for worker in workers:
                worker.wait(60)
            print(
                f"{count} worker(s): {times[count]:.1f} s ({seconds / times[count]:.2f}x realtime), {status}"
                f", speed-up vs 1 worker {times[min(times)] / times[count]:.2f}x",
                flush=True,
            )
    finally:
        db.engine.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)


def _wait(db, sid: str) -> str:
    from pipeline.db.models import Composition

    while True:
        with db.session() as session:
            status = session.get(Composition, sid).status
        if status in ("completed", "failed"):
            return status
        time.sleep(0.5)


if __name__ == "__main__":
    main()
