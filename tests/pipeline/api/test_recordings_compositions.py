"""Recordings, Compositions, CompositionHooks and Settings through the official twilio client."""

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException

from pipeline.db.models import Composition
from pipeline.importer import import_room
from pipeline.jobs.compose import run_composition
from pipeline.signing_key import deployment_storage

LAYOUT = {"grid": {"video_sources": ["*"]}}


@pytest.fixture(scope="module")
def imported(server, room):
    storage = deployment_storage(server.settings, server.db, server.base)
    return import_room(server.db, storage, server.account_sid, room)


def test_imported_room_is_completed_with_its_recordings(server, imported):
    client = server.client()
    room = client.video.v1.rooms(imported).fetch()
    assert room.status == "completed" and room.unique_name == "synthetic"
    recordings = client.video.v1.recordings.list(grouping_sid=[imported])
    assert len(recordings) == 6
    assert {r.type for r in recordings} == {"audio", "video"}
    video = [r for r in recordings if r.track_name == "carol-cam"][0]
    assert (video.status, video.codec, video.container_format) == ("completed", "H264", "mkv")
    assert video.grouping_sids["room_sid"] == imported and video.grouping_sids["participant_sid"].startswith(
        "PA"
    )
    assert video.duration == 4 and video.size > 0
    assert video.links["media"].endswith(f"/v1/Recordings/{video.sid}/Media")
    scoped = client.video.v1.rooms(imported).recordings.list()
    assert {r.sid for r in scoped} == {r.sid for r in recordings}
    assert len(client.video.v1.recordings.list(grouping_sid=[imported], media_type="audio")) == 3
    participants = client.video.v1.rooms(imported).participants.list()
    assert {p.identity for p in participants} == {"alice", "bob", "carol"}
    assert all(p.status == "disconnected" for p in participants)


def test_recording_media_redirects_to_a_signed_download(server, imported, room):
    with server.http() as http:
        sid = http.get("/v1/Recordings", params={"GroupingSid": imported, "MediaType": "audio"}).json()[
            "recordings"
        ][0]["sid"]
        response = http.get(f"/v1/Recordings/{sid}/Media", params={"Ttl": 60})
        assert response.status_code == 302
        url = response.json()["redirect_to"]
        assert response.headers["location"] == url
        media = httpx.get(url)
        assert media.status_code == 200 and media.content[:4] == b"\x1a\x45\xdf\xa3"  # Matroska
        tampered = httpx.get(url.replace("Signature=", "Signature=00"))
        assert tampered.status_code == 403 and tampered.json()["code"] == 20403
        # The room-scoped route; a UniqueName names in-progress rooms only, as on Twilio.
        assert http.get(f"/v1/Rooms/{imported}/Recordings/{sid}/Media").status_code == 302
        name = server.client().video.v1.rooms(imported).fetch().unique_name
        assert http.get(f"/v1/Rooms/{name}/Recordings/{sid}/Media").status_code == 404


def test_deleting_a_recording_keeps_its_metadata(server, imported):
    client = server.client()
    rec = client.video.v1.recordings.list(grouping_sid=[imported], media_type="video")[0]
    assert client.video.v1.recordings(rec.sid).delete() is True
    again = client.video.v1.recordings(rec.sid).fetch()
    assert again.status == "deleted"
    with server.http() as http:
        assert http.get(f"/v1/Recordings/{rec.sid}/Media").status_code == 404


def test_composition_create_echoes_twilio_defaults(server, imported):
    client = server.client()
    comp = client.video.v1.compositions.create(
        room_sid=imported,
        video_layout={
            "main": {"z_pos": 1, "video_sources": ["alice-cam"]},
            "pip": {
                "z_pos": 2,
                "x_pos": 400,
                "y_pos": 30,
                "width": 200,
                "height": 150,
                "video_sources": ["bob*"],
            },
        },
        audio_sources=["*"],
        status_callback="http://127.0.0.1:9/cb",
        format="mp4",
    )
    assert comp.sid.startswith("CJ") and comp.status == "enqueued"
    assert (comp.resolution, comp.format, comp.trim) == ("640x480", "mp4", True)
    assert comp.video_layout["pip"] == {
        "cells_excluded": [],
        "height": 150,
        "max_columns": None,
        "max_rows": None,
        "reuse": "show_oldest",
        "video_sources": ["bob*"],
        "video_sources_excluded": [],
        "width": 200,
        "x_pos": 400,
        "y_pos": 30,
        "z_pos": 2,
    }
    assert comp.audio_sources == ["*"] and comp.audio_sources_excluded == []
    assert client.video.v1.compositions(comp.sid).fetch().room_sid == imported
    assert comp.sid in [c.sid for c in client.video.v1.compositions.list(room_sid=imported)]
    assert comp.sid in [c.sid for c in client.video.v1.compositions.list(status="enqueued")]


def test_composition_accepts_a_preset_and_defaults_to_webm(server, imported):
    comp = server.client().video.v1.compositions.create(room_sid=imported, video_layout="grid")
    assert comp.format == "webm" and comp.video_layout == {
        "grid": {
            "cells_excluded": [],
            "height": None,
            "max_columns": None,
            "max_rows": None,
            "reuse": "show_oldest",
            "video_sources": ["*"],
            "video_sources_excluded": [],
            "width": None,
            "x_pos": 0,
            "y_pos": 0,
            "z_pos": 0,
        }
    }


def test_composition_delete(server, imported):
    client = server.client()
    comp = client.video.v1.compositions.create(room_sid=imported, audio_sources=["*"])
    assert comp.video_layout == {}
    client.video.v1.compositions(comp.sid).delete()
    gone = client.video.v1.compositions(comp.sid).fetch()
    assert gone.status == "deleted" and gone.date_deleted is not None


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"RoomSid": "RM" + "0" * 32, "AudioSources": "*"}, 404, None),
        ({"RoomSid": "CJ" + "0" * 32, "AudioSources": "*"}, 400, "RoomSid"),
        ({"RoomSid": "ROOM", "AudioSources": "*"}, 400, "RoomSid"),
        ({"AudioSources": "*"}, 400, "RoomSid"),
        ({"RoomSid": "@room", "VideoLayout": "{bad json"}, 400, "VideoLayout"),
        (
            {"RoomSid": "@room", "VideoLayout": '{"grid": {"video_sources": "*"}}'},
            400,
            "VideoLayout.grid.video_sources must be a list",
        ),
        ({"RoomSid": "@room", "AudioSources": "*", "Resolution": "4000x3000"}, 400, "Resolution"),
        ({"RoomSid": "@room", "AudioSources": "*", "Format": "avi"}, 400, "Format"),
        ({"RoomSid": "@room", "AudioSources": ["alice", " "]}, 400, "AudioSources[1]"),
        ({"RoomSid": "@room"}, 400, "VideoLayout"),
        ({"RoomSid": "@room", "AudioSources": "*", "Speed": "fast"}, 400, "Speed"),
    ],
)
def test_bad_composition_requests(server, imported, params, status, field):
    params = {k: (imported if v == "@room" else v) for k, v in params.items()}
    with server.http() as http:
        response = http.post("/v1/Compositions", data=params)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["more_info"].endswith(str(body["code"]))
    if field:
        assert body["message"].startswith(field), body["message"]


def test_hooks_crud_and_unique_names(server):
    client = server.client()
    hook = client.video.v1.composition_hooks.create(
        friendly_name="MyFirstCompositionHook",
        audio_sources=["*"],
        video_layout={"grid": {"video_sources": ["*"]}},
        format="mp4",
    )
    assert hook.sid.startswith("HK") and hook.enabled is True and hook.format == "mp4"
    with pytest.raises(TwilioRestException) as err:
        client.video.v1.composition_hooks.create(friendly_name="MyFirstCompositionHook", audio_sources=["*"])
    assert err.value.status == 400
    updated = client.video.v1.composition_hooks(hook.sid).update(
        friendly_name="MyFirstCompositionHook", enabled=False, audio_sources=["*"]
    )
    # An update keeps what it does not name (Twilio's semantics): the layout stays.
    assert updated.enabled is False and updated.video_layout == hook.video_layout
    assert [h.sid for h in client.video.v1.composition_hooks.list(friendly_name="myfirst*")] == [hook.sid]
    assert client.video.v1.composition_hooks.list(enabled=True) == [] or all(
        h.enabled for h in client.video.v1.composition_hooks.list(enabled=True)
    )
    client.video.v1.composition_hooks(hook.sid).delete()
    with pytest.raises(TwilioRestException) as err:
        client.video.v1.composition_hooks(hook.sid).fetch()
    assert err.value.status == 404


def test_enabled_hooks_compose_every_completed_room(server, room):
    from pipeline.db.models import CallbackDelivery

    client = server.client()
    hook = client.video.v1.composition_hooks.create(
        friendly_name="every-room", audio_sources=["*"], status_callback="http://127.0.0.1:9/hooks"
    )
    storage = deployment_storage(server.settings, server.db, server.base)
    recorded = import_room(server.db, storage, server.account_sid, room)
    made = client.video.v1.compositions.list(room_sid=recorded)
    assert len(made) == 1 and made[0].audio_sources == ["*"]
    empty = client.video.v1.rooms.create(unique_name="nobody-came")
    client.video.v1.rooms(empty.sid).update(status="completed")
    assert client.video.v1.compositions.list(room_sid=empty.sid) == []
    with server.db.session() as session:
        failed = [
            d.params
            for d in session.query(CallbackDelivery).filter_by(url="http://127.0.0.1:9/hooks")
            if d.params.get("RoomSid") == empty.sid
        ]
    assert failed and failed[0]["StatusCallbackEvent"] == "composition-hook-failed"
    assert failed[0]["HookSid"] == hook.sid
    client.video.v1.composition_hooks(hook.sid).delete()


def test_storage_settings(server):
    client = server.client()
    settings = client.video.v1.composition_settings().fetch()
    assert settings.aws_storage_enabled is False
    credential = client.accounts.v1.credentials.aws.create(credentials="AKIAEXAMPLE:secret")
    updated = client.video.v1.composition_settings().create(
        friendly_name="bucket",
        aws_s3_url="https://my-bucket.s3.amazonaws.com/compositions",
        aws_storage_enabled=True,
        aws_credentials_sid=credential.sid,
    )
    assert updated.aws_storage_enabled is True and updated.aws_s3_url.endswith("/compositions")
    assert client.video.v1.recording_settings().fetch().aws_storage_enabled is False
    with server.http() as http:
        response = http.post(
            "/v1/RecordingSettings/Default", data={"FriendlyName": "x", "AwsStorageEnabled": "true"}
        )
    assert response.status_code == 400 and response.json()["message"].startswith("AwsS3Url")
    # What uploads can parse is what settings accept: s3:// is AWS, a path-style URL needs a bucket.
    ok = client.video.v1.recording_settings().create(friendly_name="s3", aws_s3_url="s3://my-bucket/rec")
    assert ok.aws_s3_url == "s3://my-bucket/rec"
    for bad in ("ftp://my-bucket/rec", "http://minio:9000/", "s3:///rec"):
        with server.http() as http:
            response = http.post("/v1/RecordingSettings/Default", data={"FriendlyName": "x", "AwsS3Url": bad})
        assert response.status_code == 400 and response.json()["message"].startswith("AwsS3Url"), bad


def test_another_accounts_resources_are_404(server, imported):
    from pipeline.db.models import Account

    with server.db.session() as session:
        session.add(Account(sid="AC" + "9" * 32, auth_token="t" * 32))
    with httpx.Client(base_url=server.base, auth=("AC" + "9" * 32, "t" * 32)) as other:
        assert other.get(f"/v1/Rooms/{imported}").status_code == 404
        assert other.get("/v1/Recordings", params={"GroupingSid": imported}).json()["recordings"] == []


def test_participants_fetch_by_identity_and_anonymize(server, imported):
    client = server.client()
    alice = client.video.v1.rooms(imported).participants("alice").fetch()
    assert alice.sid.startswith("PA") and alice.duration == 8
    tracks = client.video.v1.rooms(imported).participants(alice.sid).published_tracks.list()
    assert tracks == []  # a completed room publishes nothing any more
    with server.http() as http:
        response = http.post(f"/v1/Rooms/{imported}/Participants/{alice.sid}/Anonymize")
    assert response.status_code == 200 and response.json()["identity"] == alice.sid


def test_date_filters(server, imported):
    client = server.client()
    everything = client.video.v1.recordings.list(grouping_sid=[imported])
    assert (
        client.video.v1.recordings.list(grouping_sid=[imported], date_created_after="2100-01-01T00:00:00Z")
        == []
    )
    assert len(
        client.video.v1.recordings.list(grouping_sid=[imported], date_created_before="2100-01-01T00:00:00Z")
    ) == len(everything)
    with server.http() as http:
        response = http.get("/v1/Recordings", params={"DateCreatedAfter": "yesterday"})
    assert response.status_code == 400 and response.json()["message"].startswith("DateCreatedAfter")


def test_a_room_that_was_never_recorded_is_refused_at_creation_and_says_so(server):
    client = server.client()
    unrecorded = client.video.v1.rooms.create(unique_name="never-recorded")
    client.video.v1.rooms(unrecorded.sid).update(status="completed")
    with pytest.raises(TwilioRestException) as caught:
        client.video.v1.compositions.create(room_sid=unrecorded.sid, audio_sources=["*"])
    assert caught.value.status == 400 and "has no recordings" in caught.value.msg
    assert "RecordParticipantsOnConnect" in caught.value.msg


def test_a_selection_that_matches_nothing_names_the_rooms_tracks(server, room):
    storage = deployment_storage(server.settings, server.db, server.base)
    room_sid = import_room(server.db, storage, server.account_sid, room)
    client = server.client()
    comp = client.video.v1.compositions.create(
        room_sid=room_sid, video_layout={"grid": {"video_sources": ["nobody*"]}}, audio_sources=["nobody*"]
    )
    run_composition(server.db, storage, comp.sid, "test")  # this one only, not the module's queue
    with server.db.session() as session:
        message = session.get(Composition, comp.sid).error_message
    assert "selects no video or audio recording" in message and "its tracks are" in message
    assert "(video)" in message and "(audio)" in message
