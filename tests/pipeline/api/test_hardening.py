"""Bad input from outside is a 4xx with Twilio's error body, never a 500 (#17: 8, 11, 12)."""

from __future__ import annotations

import json

import httpx


def test_every_credential_mismatch_is_a_401(server):
    for user in (server.account_sid, "AC" + "0" * 32, "SK" + "0" * 32):
        response = httpx.get(f"{server.base}/v1/Rooms", auth=(user, "pässwörd-ünïcode"))
        assert response.status_code == 401, user
        body = response.json()
        assert body["code"] == 20003 and body["status"] == 401
    # The same answer whether or not the account exists: nothing to learn from it.
    known = httpx.get(f"{server.base}/v1/Rooms", auth=(server.account_sid, "nope-ü")).json()
    unknown = httpx.get(f"{server.base}/v1/Rooms", auth=("AC" + "1" * 32, "nope-ü")).json()
    assert known == unknown


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_deeply_nested_json_is_a_400(server):
    room = server.client().video.v1.rooms.create(unique_name="deep-json")
    with server.http() as http:
        for depth in (40, 1000, 40_000):
            layout = (
                json.dumps({"grid": {"video_sources": json.loads(nested(depth))}})
                if depth < 900
                else nested(depth)
            )
            response = http.post("/v1/Compositions", data={"RoomSid": room.sid, "VideoLayout": layout})
            assert response.status_code == 400, depth
            assert response.json()["code"] == 53400
            rules = http.post(f"/v1/Rooms/{room.sid}/RecordingRules", data={"Rules": nested(depth)})
            assert rules.status_code == 400, depth
            assert rules.json()["code"] == 53400

    # An ordinary layout still goes through.
    fine = server.client().video.v1.compositions.create(
        room_sid=room.sid, video_layout={"grid": {"video_sources": ["*"]}}
    )
    assert fine.sid.startswith("CJ")


def test_range_errors_name_the_range_they_mean(server):
    with server.http() as http:
        response = http.get("/v1/Rooms", params={"PageSize": 0})
        assert response.status_code == 400
        assert "None" not in response.json()["message"]


def test_status_callbacks_are_http_or_https_urls(server):
    with server.http() as http:
        for url in ("file:///etc/passwd", "gopher://127.0.0.1/", "not a url", "http://"):
            for path, data in (
                ("/v1/Rooms", {}),
                ("/v1/CompositionHooks", {"FriendlyName": "cb", "AudioSources": "*"}),
            ):
                response = http.post(path, data={**data, "StatusCallback": url})
                assert response.status_code == 400, (path, url)
                assert "StatusCallback" in response.json()["message"]
        assert http.post("/v1/Rooms", data={"StatusCallback": "https://127.0.0.1:9/cb"}).status_code == 201


def test_a_json_body_is_told_to_send_form_parameters(server):
    with server.http() as http:
        response = http.post("/v1/Compositions", json={"RoomSid": "RM" + "0" * 32, "AudioSources": ["*"]})
    assert response.status_code == 400
    assert "form-encoded" in response.json()["message"] and response.json()["code"] == 53400
