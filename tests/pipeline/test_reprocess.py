"""`roomreel reprocess` over 20 rooms: progress, interruption, resume, summary and exit status."""

import signal
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from pipeline.config import Settings
from pipeline.db import Database
from pipeline.db.models import Composition
from pipeline.importer import import_room
from pipeline.signing_key import deployment_storage
from tests.waiting import wait_for

pytestmark = pytest.mark.media
ROOMS = 20


@pytest.fixture
def twenty_rooms(room, tmp_path):
    env = {"ROOMREEL_DATA_DIR": str(tmp_path / "data"), "PATH": ""}
    settings = Settings.from_env(env)
    db = Database(settings.database_url)
    db.upgrade()
    from pipeline.accounts import ensure_account

    account, _ = ensure_account(db, settings)
    storage = deployment_storage(settings, db)
    sids = [import_room(db, storage, account.sid, room) for _ in range(ROOMS)]
    return env, db, sids


def reprocess(env, *extra):
    # With video, each composition takes long enough that the interruption below lands mid-run
    # even when the test process is starved for a second or two (audio alone once let all 20
    # finish before the SIGINT arrived).
    return [
        sys.executable,
        "-m",
        "pipeline.cli",
        "reprocess",
        "--all",
        "--audio-sources",
        "alice-mic",
        "--layout",
        "grid",
        "--resolution",
        "1280x720",
        *extra,
    ]


def count(db, status=None):
    with db.session() as session:
        query = select(func.count()).select_from(Composition)
        if status:
            query = query.where(Composition.status == status)
        return session.scalar(query)


def test_reprocess_resumes_after_an_interruption(twenty_rooms):
    env, db, _ = twenty_rooms
    first = subprocess.Popen(
        reprocess(env),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # A suite started in the background of a non-interactive shell inherits SIGINT ignored,
        # and Python then installs no KeyboardInterrupt: the run would shrug the interruption off.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    wait_for(lambda: count(db, "completed") >= 2, 120, "two compositions")
    # Frozen at once, then interrupted: the interruption lands mid-run however late this test
    # process gets the CPU back (a starved one once let all 20 finish before its SIGINT).
    first.send_signal(signal.SIGSTOP)
    frozen_at = count(db, "completed")
    first.send_signal(signal.SIGINT)
    first.send_signal(signal.SIGCONT)
    first.wait(60)
    done_before = count(db, "completed")
    assert 2 <= frozen_at <= done_before <= frozen_at + 1 < ROOMS
    assert count(db) == ROOMS  # every room was enqueued once

    again = subprocess.run(reprocess(env), env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{ROOMS} rooms: 0 compositions enqueued, {ROOMS} reused" in again.stderr
    assert f"reprocessed {ROOMS} rooms: {ROOMS} completed, 0 failed" in again.stderr
    assert "ETA" in again.stderr  # the live table
    assert count(db) == ROOMS and count(db, "completed") == ROOMS

    forced = subprocess.run(
        reprocess(env, "--room", twenty_rooms[2][0], "--force"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert forced.returncode == 0 and "1 compositions enqueued" in forced.stderr


def test_failures_give_a_non_zero_exit(twenty_rooms):
    env, db, sids = twenty_rooms
    command = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "reprocess",
        "--room",
        sids[0],
        "--layout",
        '{"g": {"video_sources": ["nobody"]}}',
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "1 failed" in result.stderr and "selects no video or audio recording" in result.stderr
