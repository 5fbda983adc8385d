"""Updates as Twilio defines them (#14.2): each sends the fewest parameters the official client
allows, and keeps every field it does not name."""

from __future__ import annotations

import pytest

LAYOUT = {"grid": {"video_sources": ["alice*"]}}


def _hook(client, name: str):
    return client.video.v1.composition_hooks.create(
        friendly_name=name,
        video_layout=LAYOUT,
        audio_sources=["alice*"],
        audio_sources_excluded=["bob*"],
        resolution="1280x720",
        format="webm",
        trim=False,
        status_callback="https://hooks.example.com/cb",
        status_callback_method="GET",
    )


FIELDS = (
    "video_layout",
    "audio_sources",
    "audio_sources_excluded",
    "resolution",
    "format",
    "trim",
    "status_callback",
    "status_callback_method",
)


def test_a_hook_is_switched_off_with_only_its_name_and_enabled(server):
    client = server.client()
    hook = _hook(client, "switch-me-off")
    off = client.video.v1.composition_hooks(hook.sid).update(friendly_name="switch-me-off", enabled=False)
    assert off.enabled is False
    assert {f: getattr(off, f) for f in FIELDS} == {f: getattr(hook, f) for f in FIELDS}
    renamed = client.video.v1.composition_hooks(hook.sid).update(friendly_name="renamed")
    assert renamed.friendly_name == "renamed" and renamed.enabled is False
    assert client.video.v1.composition_hooks(hook.sid).fetch().audio_sources == ["alice*"]


def test_a_hook_update_changes_only_what_it_names(server):
    client = server.client()
    hook = _hook(client, "partial-update")
    updated = client.video.v1.composition_hooks(hook.sid).update(
        friendly_name="partial-update", format="mp4", audio_sources=["carol"]
    )
    assert (updated.format, updated.audio_sources) == ("mp4", ["carol"])
    assert updated.video_layout == hook.video_layout and updated.trim is False
    assert updated.status_callback == "https://hooks.example.com/cb"


def test_a_hook_update_still_needs_its_name(server):
    client = server.client()
    hook = _hook(client, "needs-name")
    with server.http() as http:
        response = http.post(f"/v1/CompositionHooks/{hook.sid}", data={"Enabled": "false"})
    assert response.status_code == 400 and "FriendlyName" in response.json()["message"]
    assert client.video.v1.composition_hooks(hook.sid).fetch().enabled is True


@pytest.mark.parametrize("kind", ["recording_settings", "composition_settings"])
def test_settings_keep_what_an_update_does_not_name(server, kind):
    client = server.client()
    credential = client.accounts.v1.credentials.aws.create(credentials="AKIAKEEP:secret")
    settings = getattr(client.video.v1, kind)
    settings().create(
        friendly_name="bucket",
        aws_s3_url="s3://keep-bucket/prefix",
        aws_storage_enabled=True,
        aws_credentials_sid=credential.sid,
    )
    try:
        renamed = settings().create(friendly_name="renamed only")
        assert renamed.friendly_name == "renamed only"
        assert (renamed.aws_s3_url, renamed.aws_storage_enabled, renamed.aws_credentials_sid) == (
            "s3://keep-bucket/prefix",
            True,
            credential.sid,
        )
    finally:
        settings().create(friendly_name="off", aws_storage_enabled=False)


def test_rooms_and_their_rules_update_with_one_parameter(server):
    client = server.client()
    room = client.video.v1.rooms.create(unique_name="fewest-parameters", record_participants_on_connect=True)
    rules = client.video.v1.rooms(room.sid).recording_rules.update(rules=[{"type": "exclude", "all": True}])
    assert rules.rules == [{"type": "exclude", "all": True}]
    assert client.video.v1.rooms(room.sid).update(status="completed").status == "completed"
