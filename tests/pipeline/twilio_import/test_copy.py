"""`roomreel import-twilio` against a real Twilio-compatible source: another roomreel serving
rooms recorded live from bots, one composed, one whose recording media was deleted. The import
is interrupted halfway with SIGINT and run again; the official `twilio` client then reads the
target as it read the source, and a composition made on the target matches the source's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline.embedded import EmbeddedWorkers
from pipeline.sfu import SfuSettings
from tests.live_server import running_server
from tests.media_checks import close, colour, frame_at, video_frames
from tests.waiting import wait_for
from tests.workers.conftest import stack  # noqa: F401  (serve + worker on Redis, S3)

pytestmark = [pytest.mark.media, pytest.mark.slow]
RED, BLUE = "#dc2828", "#2850e6"


def bots(server, room: str, people: list[tuple[str, str]], seconds: float) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipeline.cli",
                "bot",
                "--url",
                server.base,
                "--room",
                room,
                "--identity",
                who,
                "--colour",
                hue,
                "--duration",
                str(seconds),
                "--token",
                server.token(who, room),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=server.settings.data_dir,
        )  # fmt: skip
        for who, hue in people
    ]


def composed(server, room_sid: str) -> str:
    client = server.client()
    sid = client.video.v1.compositions.create(
        room_sid=room_sid, video_layout={"grid": {"video_sources": ["*"], "max_rows": 1}}, audio_sources=["*"],
        resolution="640x240", format="mp4",
    ).sid  # fmt: skip
    wait_for(lambda: client.video.v1.compositions(sid).fetch().status == "completed", 120, "the composition")
    return sid


# What differs between two deployments by nature: whose account it is and where it is served.
PLACE = {"account_sid", "url", "links"}


def same_resource(theirs, ours) -> None:
    """The official client's reading of an imported resource matches the source's, field by field."""
    a = {k: v for k, v in vars(theirs).items() if not k.startswith("_") and k not in PLACE}
    b = {k: v for k, v in vars(ours).items() if not k.startswith("_") and k not in PLACE}
    assert {k: (a[k], b.get(k)) for k in a if a[k] != b.get(k)} == {}, theirs.sid


def media_bytes(server, key: str) -> bytes:
    return (server.app.state.services.storage.root / key).read_bytes()


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("source"), sfu=SfuSettings(hosts=["127.0.0.1"])) as server:
        workers = EmbeddedWorkers(server.db, server.app.state.services.storage, interval=0.2).start()
        client = server.client()
        talk = client.video.v1.rooms.create(unique_name="talk", record_participants_on_connect=True)
        gone = client.video.v1.rooms.create(unique_name="gone", record_participants_on_connect=True)
        running = bots(server, "talk", [("alice", RED), ("bob", BLUE)], 5) + bots(
            server, "gone", [("carol", RED)], 3
        )
        for proc in running:
            assert proc.wait(60) == 0
        for room in (talk, gone):
            client.video.v1.rooms(room.sid).update(status="completed")
        composition = composed(server, talk.sid)
        deleted = client.video.v1.recordings.list(grouping_sid=[gone.sid], media_type="audio")[0].sid
        client.video.v1.recordings(deleted).delete()
        client.video.v1.composition_hooks.create(
            friendly_name="everyone", video_layout={"grid": {"video_sources": ["*"]}}, audio_sources=["*"]
        )
        try:
            yield server, talk.sid, gone.sid, composition, deleted
        finally:
            workers.stop()


def run_import(source_server, target_dir, *extra: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "ROOMREEL_DATA_DIR": str(target_dir),
        "TWILIO_ACCOUNT_SID": source_server.account_sid,
        "TWILIO_AUTH_TOKEN": source_server.auth_token,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "import-twilio", "--api-url", source_server.base, *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_an_account_arrives_whole_with_its_sids_after_an_interruption(source, tmp_path):
    server, talk, gone, composition, deleted = source
    target_dir = tmp_path / "target"
    # Interrupted after its first room (one download at a time keeps it slow enough to catch).
    first = run_import(server, target_dir, "--concurrency", "1")
    deadline = time.monotonic() + 60
    line = ""
    while "room 1/2" not in line and time.monotonic() < deadline:
        line = first.stderr.readline()
    assert " left" in line, line  # the progress line says how long the rest will take
    first.send_signal(signal.SIGINT)
    first.communicate(timeout=60)
    second = run_import(server, target_dir, "--concurrency", "4")
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    assert "Traceback" not in err
    assert f"not copied: {deleted}" in out

    with running_server(target_dir) as target:
        theirs, ours = server.client().video.v1, target.client().video.v1
        for room_sid in (talk, gone):
            same_resource(theirs.rooms(room_sid).fetch(), ours.rooms(room_sid).fetch())
            source_people = {p.sid: p for p in theirs.rooms(room_sid).participants.list()}
            target_people = {p.sid: p for p in ours.rooms(room_sid).participants.list()}
            assert set(target_people) == set(source_people)
            for sid, person in source_people.items():
                same_resource(person, target_people[sid])
            source_recordings = {r.sid: r for r in theirs.recordings.list(grouping_sid=[room_sid])}
            target_recordings = {r.sid: r for r in ours.recordings.list(grouping_sid=[room_sid])}
            assert set(target_recordings) == set(source_recordings)
            for sid, r in source_recordings.items():
                copy = target_recordings[sid]
                fields = (
                    "duration",
                    "type",
                    "codec",
                    "container_format",
                    "track_name",
                    "offset",
                    "grouping_sids",
                )
                assert [getattr(copy, f) for f in fields] == [getattr(r, f) for f in fields], sid
                if r.status == "completed":
                    same_resource(r, copy)
                    key = f"rooms/{room_sid}/{sid}.{r.container_format}"
                    assert media_bytes(target, key) == media_bytes(server, key), sid
                    assert copy.status == "completed" and copy.size == r.size
            assert {p.identity for p in ours.rooms(room_sid).participants.list()} == {
                p.identity for p in theirs.rooms(room_sid).participants.list()
            }
        old = ours.compositions(composition).fetch()
        same_resource(theirs.compositions(composition).fetch(), old)
        same_resource(theirs.composition_hooks.list()[0], ours.composition_hooks.list()[0])
        assert (old.status, old.room_sid, old.duration) == (
            "completed",
            talk,
            theirs.compositions(composition).fetch().duration,
        )
        key = f"compositions/{target.account_sid}/{composition}.mp4"
        assert media_bytes(target, key) == media_bytes(
            server, f"compositions/{server.account_sid}/{composition}.mp4"
        )
        assert [h.friendly_name for h in ours.composition_hooks.list()] == ["everyone"]

        # Composed again on the target, the imported recordings line up as the source's did.
        workers = EmbeddedWorkers(target.db, target.app.state.services.storage, interval=0.2).start()
        try:
            again = composed(target, talk)
        finally:
            workers.stop()
        before = video_frames(
            server.app.state.services.storage.root / f"compositions/{server.account_sid}/{composition}.mp4"
        )
        after = video_frames(
            target.app.state.services.storage.root / f"compositions/{target.account_sid}/{again}.mp4"
        )
        assert abs(before[-1][0] - after[-1][0]) <= 0.1
        for t in (0.5, 1.5, 2.5, 3.5):
            for x in (160, 480):
                assert close(colour(frame_at(after, t), x, 120), colour(frame_at(before, t), x, 120)), (t, x)

    # A third run finds everything there and copies nothing.
    third = run_import(server, target_dir)
    out, _ = third.communicate(timeout=120)
    assert "imported 0 rooms (2 already there)" in out


def test_a_queued_import_is_copied_by_the_workers_and_survives_a_dead_one(source, tmp_path):
    from datetime import timedelta

    from pipeline.db.models import TwilioImportRoom, TwilioImportRun, utcnow

    server, talk, gone, composition, deleted = source
    target_dir = tmp_path / "target"
    queued = run_import(server, target_dir, "--queue", "--detach")
    out, err = queued.communicate(timeout=120)
    assert queued.returncode == 0, err
    import_sid = out.strip()
    assert "2 rooms for the workers" in err
    with running_server(target_dir) as target:
        with target.db.session() as session:
            # A worker took the first room and died: its heartbeat stopped long ago.
            row = session.get(TwilioImportRoom, (import_sid, talk))
            row.status, row.worker_id, row.heartbeat_at = (
                "processing",
                "dead",
                utcnow() - timedelta(minutes=5),
            )
        workers = EmbeddedWorkers(target.db, target.app.state.services.storage, interval=0.2, node_id="n1")
        workers.start()
        try:
            follow = run_import(server, target_dir, "--follow", import_sid)
            out, err = follow.communicate(timeout=300)
        finally:
            workers.stop()
        assert follow.returncode == 0, err
        assert "Traceback" not in err
        assert "imported 2 rooms (0 already there)" in out, out
        assert f"not copied: {deleted}" in out
        ours, theirs = target.client().video.v1, server.client().video.v1
        for room_sid in (talk, gone):
            source_recordings = {r.sid: r for r in theirs.recordings.list(grouping_sid=[room_sid])}
            assert {r.sid for r in ours.recordings.list(grouping_sid=[room_sid])} == set(source_recordings)
            for sid, r in source_recordings.items():
                if r.status == "completed":
                    key = f"rooms/{room_sid}/{sid}.{r.container_format}"
                    assert media_bytes(target, key) == media_bytes(server, key), sid
        assert ours.compositions(composition).fetch().status == "completed"
        with target.db.session() as session:
            run = session.get(TwilioImportRun, import_sid)
            assert (run.status, run.password) == ("completed", None)  # the source's secret is gone
            assert session.get(TwilioImportRoom, (import_sid, talk)).attempts == 1


@pytest.mark.services
def test_a_queued_import_runs_on_worker_processes_over_redis_into_s3(source, stack):  # noqa: F811
    """The production shape: the command queues on Redis, a `roomreel worker` copies into S3."""
    server, talk, gone, composition, deleted = source
    stack.start_worker()
    env = {**stack.env, "TWILIO_ACCOUNT_SID": server.account_sid, "TWILIO_AUTH_TOKEN": server.auth_token}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "import-twilio", "--api-url", server.base, "--queue"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "imported 2 rooms (0 already there)" in done.stdout, done.stdout
    assert f"not copied: {deleted}" in done.stdout
    keys = stack.objects()
    for r in server.client().video.v1.recordings.list(grouping_sid=[talk]):
        assert f"rr/rooms/{talk}/{r.sid}.{r.container_format}" in keys
    assert f"rr/compositions/{stack.account_sid}/{composition}.mp4" in keys
    assert stack.client().video.v1.rooms(talk).fetch().status == "completed"
