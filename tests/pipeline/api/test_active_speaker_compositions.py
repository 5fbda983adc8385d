"""A composition whose layout follows the active speaker (roomreel's extension), run as a job:
the keys are accepted and echoed, the levels are computed from the stored audio once and kept in
storage at levels_key, and the next composition plans from them without decoding."""

from __future__ import annotations

import io
import json

import httpx
import pytest
from PIL import Image

from pipeline.compose.preview import source_colour
from pipeline.db.models import Composition
from pipeline.embedded import compose_pending
from pipeline.importer import import_room
from pipeline.jobs import compose as compose_job
from pipeline.media.levels import LevelTimeline, levels_key
from pipeline.rooms import manifest_data
from pipeline.signing_key import deployment_storage
from tests.media_checks import close
from tests.synthetic_room import make_room
from tests.talking_room import LENGTH, MAIN, SIZE, check_follows_the_talker, people

pytestmark = [pytest.mark.media, pytest.mark.slow]

LAYOUT = {
    "main": {"max_rows": 1, "max_columns": 1, "video_sources": ["*"], "active_speaker": True},
    "strip": {
        "z_pos": 1,
        "y_pos": 136,
        "height": 44,
        "max_rows": 1,
        "video_sources": ["*"],
        "active_speaker": True,
        "active_speaker_skip": 1,
        "active_speaker_hold": 2.0,
    },
}


@pytest.fixture(scope="module")
def talking_room(tmp_path_factory):
    directory = tmp_path_factory.mktemp("talking-room")
    make_room(directory, people(), fps=15, duration=LENGTH)
    return directory


def test_an_active_speaker_composition_computes_and_then_reuses_stored_levels(
    server, talking_room, monkeypatch
):
    storage = deployment_storage(server.settings, server.db, server.base)
    room_sid = import_room(server.db, storage, server.account_sid, talking_room)
    client = server.client()
    first = client.video.v1.compositions.create(
        room_sid=room_sid, video_layout=LAYOUT, audio_sources=["*"], format="mp4", resolution=SIZE
    )
    assert first.video_layout["main"]["active_speaker"] is True
    assert first.video_layout["main"]["active_speaker_hold"] == 2.0
    assert first.video_layout["strip"]["active_speaker_skip"] == 1
    assert compose_pending(server.db, storage) >= 1
    assert client.video.v1.compositions(first.sid).fetch().status == "completed"

    from pipeline.db.models import Recording

    with server.db.session() as session:
        audio = [r.sid for r in session.query(Recording).filter_by(room_sid=room_sid, type="audio")]
    assert len(audio) == 3
    for sid in audio:
        timeline = LevelTimeline.load(storage.path(levels_key(room_sid, sid)))
        assert timeline.source == "decoded" and len(timeline.values) == pytest.approx(LENGTH * 20, abs=2)

    with server.http() as http:
        url = http.get(f"/v1/Compositions/{first.sid}/Media").json()["redirect_to"]
    out = server.settings.data_dir / f"{first.sid}.mp4"
    out.write_bytes(httpx.get(url).content)
    print("turn, start, shown from:", check_follows_the_talker(out))

    # The dashboard's preview draws the same switches from the stored levels.
    cams = {
        r["participant_identity"]: r["sid"] for r in _recordings(server, room_sid) if r["kind"] == "video"
    }
    with server.http() as http:
        for at, talker in (("7", "bob"), ("11", "carol")):
            form = {"RoomSid": room_sid, "VideoLayout": json.dumps(LAYOUT), "Resolution": SIZE, "At": at}
            answer = http.post("/dashboard/api/preview", data=form)
            assert answer.status_code == 200, answer.text
            pixel = Image.open(io.BytesIO(answer.content)).convert("RGB").getpixel(MAIN)
            assert close(pixel, source_colour(cams[talker]), 40), (at, talker, pixel)

    def no_decoding(path, rate=20):
        raise AssertionError(f"decoded {path} again")

    monkeypatch.setattr(compose_job, "measure", no_decoding)
    second = client.video.v1.compositions.create(
        room_sid=room_sid, video_layout=LAYOUT, audio_sources=["*"], format="mp4", resolution=SIZE
    )
    with server.db.session() as session:
        row = session.get(Composition, second.sid)
        plan, _, _ = compose_job.composition_plan(server.db, row, storage)
    mains = [t.source for s in plan.segments for t in s.tiles if t.region == "main"]
    assert len({m for m in mains}) == 3  # every talker takes the main region in turn


def _recordings(server, room_sid: str) -> list[dict]:
    from pipeline.db.models import Room

    with server.db.session() as session:
        return manifest_data(session, session.get(Room, room_sid))[0]["recordings"]


def test_the_api_refuses_a_bad_hold(server):
    from twilio.base.exceptions import TwilioRestException

    storage = deployment_storage(server.settings, server.db, server.base)
    assert storage is not None
    client = server.client()
    bad = {"main": {"video_sources": ["*"], "active_speaker": True, "active_speaker_hold": -1}}
    with pytest.raises(TwilioRestException) as caught:
        client.video.v1.composition_hooks.create(friendly_name="speaker-hook", video_layout=bad)
    assert caught.value.status == 400 and "active_speaker_hold" in caught.value.msg


def test_a_split_composition_follows_the_talker_across_its_parts(server, talking_room, tmp_path):
    """The dramatiq workers' path: the composition splits into windows, each part plans again
    (from the levels the split stored) and the joined file switches as one render would."""
    from pipeline.jobs.compose import run_composition
    from pipeline.jobs.split_job import AUDIO, Splitter, join_parts, parts, run_part

    storage = deployment_storage(server.settings, server.db, server.base)
    room_sid = import_room(server.db, storage, server.account_sid, talking_room)
    comp = server.client().video.v1.compositions.create(
        room_sid=room_sid, video_layout=LAYOUT, audio_sources=["*"], format="mp4", resolution=SIZE
    )
    spool = tmp_path / "spool"
    assert (
        run_composition(server.db, storage, comp.sid, "w1", spool, Splitter(seconds=4, window=5)).status
        == "split"
    )
    every = parts(server.db, comp.sid)
    assert AUDIO in every and len(every) >= 4
    for index in every:
        assert run_part(server.db, storage, comp.sid, index, "w1", spool) == "done"
    assert join_parts(server.db, storage, comp.sid, "w1", spool).status == "completed"
    with server.db.session() as session:
        key = session.get(Composition, comp.sid).media_key
    out = storage.get_file(key, tmp_path / "joined.mp4")
    print("turn, start, shown from:", check_follows_the_talker(out))
