"""Rooms, RecordingRules and errors through the official twilio client."""

import pytest
from twilio.base.exceptions import TwilioRestException


def test_create_fetch_list_and_complete_a_room(server):
    client = server.client()
    room = client.video.v1.rooms.create(
        unique_name="standup", record_participants_on_connect=True, status_callback="http://127.0.0.1:9/cb"
    )
    assert room.sid.startswith("RM") and len(room.sid) == 34
    assert (room.status, room.type, room.unique_name) == ("in-progress", "group", "standup")
    assert room.record_participants_on_connect is True
    assert room.video_codecs == ["VP8"] and room.max_participants == 50
    assert room.links["recording_rules"].endswith(f"/v1/Rooms/{room.sid}/RecordingRules")

    by_name = client.video.v1.rooms("standup").fetch()
    assert by_name.sid == room.sid
    assert room.sid in [r.sid for r in client.video.v1.rooms.list(unique_name="standup")]

    rules = client.video.v1.rooms(room.sid).recording_rules.fetch()
    assert rules.rules == [{"type": "include", "all": True}]
    updated = client.video.v1.rooms(room.sid).recording_rules.update(
        rules=[{"type": "include", "kind": "audio"}, {"type": "exclude", "publisher": "bob"}]
    )
    assert updated.rules == [{"type": "include", "kind": "audio"}, {"type": "exclude", "publisher": "bob"}]

    done = client.video.v1.rooms(room.sid).update(status="completed")
    assert done.status == "completed" and done.end_time is not None
    assert room.sid in [r.sid for r in client.video.v1.rooms.list(status="completed")]
    assert room.sid not in [r.sid for r in client.video.v1.rooms.list()]


def test_unique_name_is_unique_among_live_rooms(server):
    client = server.client()
    client.video.v1.rooms.create(unique_name="dup")
    with pytest.raises(TwilioRestException) as err:
        client.video.v1.rooms.create(unique_name="dup")
    assert err.value.status == 400 and err.value.code == 53113


def test_paging_walks_every_room(server):
    client = server.client()
    made = {client.video.v1.rooms.create(unique_name=f"page-{i}").sid for i in range(7)}
    seen = [r.sid for r in client.video.v1.rooms.list(page_size=3)]
    assert made <= set(seen)
    assert len(seen) == len(set(seen))
    first = client.video.v1.rooms.page(page_size=3)
    assert len(list(first)) == 3 and first.next_page_url


def test_a_page_size_above_the_maximum_is_capped(server):
    client = server.client()
    # The official client sends PageSize=limit; Recordings allow at most 100 per page.
    assert client.video.v1.recordings.list(limit=500) == []
    with server.http() as http:
        meta = http.get("/v1/Recordings", params={"PageSize": 5000}).json()["meta"]
    assert meta["page_size"] == 100


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"MaxParticipants": "500"}, "MaxParticipants"),
        ({"UniqueName": "x" * 129}, "UniqueName"),
        ({"Colour": "red"}, "Colour"),
        ({"RecordingRules": "{nope"}, "RecordingRules"),
        ({"RecordingRules": '[{"type": "include"}]'}, "RecordingRules[0]"),
        ({"VideoCodecs": "VP9"}, "VideoCodecs"),
    ],
)
def test_bad_room_parameters_get_a_twilio_error(server, params, field):
    with server.http() as http:
        response = http.post("/v1/Rooms", data=params)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert body["status"] == 400 and body["message"].startswith(field)


def test_auth_is_required_and_checked(server):
    import httpx

    anonymous = httpx.get(f"{server.base}/v1/Rooms")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == 20003
    wrong = httpx.get(f"{server.base}/v1/Rooms", auth=(server.account_sid, "nope"))
    assert wrong.status_code == 401


def test_api_key_credentials_work(server):
    from twilio.rest import Client

    from pipeline.accounts import create_api_key
    from tests.pipeline.api.conftest import LocalHttpClient

    key = create_api_key(server.db, server.account_sid)
    client = Client(key.sid, key.secret, server.account_sid, http_client=LocalHttpClient(server.base))
    assert isinstance(client.video.v1.rooms.list(), list)


def test_unknown_room_is_404(server):
    with pytest.raises(TwilioRestException) as err:
        server.client().video.v1.rooms("RM" + "0" * 32).fetch()
    assert err.value.status == 404 and err.value.code == 20404
