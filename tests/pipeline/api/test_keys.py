"""API keys through Twilio's Keys resource with the official client, and `roomreel keys`: a
revoked key stops REST access and the tokens it signed at once; tokens live 24 hours at most."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from pipeline.sfu import room_state
from pipeline.sfu.access_token import AccessTokenError, mint, verify
from tests.live_server import LocalHttpClient


def token_ok(server, key_sid: str, secret: str, ttl: int = 3600) -> bool:
    token = mint(server.account_sid, key_sid, secret, "alice", "keys-room", ttl)
    try:
        verify(token, lambda ac, sk: room_state.key_secret(server.db, ac, sk), "keys-room")
    except AccessTokenError:
        return False
    return True


def test_keys_are_created_listed_renamed_and_revoked(server):
    client = server.client()
    created = client.new_keys.create(friendly_name="ci")
    assert created.sid.startswith("SK") and created.secret
    assert created.sid in {k.sid for k in client.keys.list()}
    assert client.keys(created.sid).fetch().friendly_name == "ci"
    assert client.keys(created.sid).update(friendly_name="renamed").friendly_name == "renamed"

    with_key = Client(
        created.sid, created.secret, server.account_sid, http_client=LocalHttpClient(server.base)
    )
    assert isinstance(with_key.video.v1.rooms.list(limit=1), list)
    assert token_ok(server, created.sid, created.secret)
    with pytest.raises(TwilioException, match="401"):
        with_key.keys.list()  # a key does not manage keys

    assert client.keys(created.sid).delete() is True
    assert created.sid not in {k.sid for k in client.keys.list()}
    with pytest.raises(TwilioException, match="401"):
        with_key.video.v1.rooms.list(limit=1)
    assert not token_ok(server, created.sid, created.secret)


def test_tokens_live_one_day_at_most(server):
    key = server.client().new_keys.create(friendly_name="lifetime")
    assert token_ok(server, key.sid, key.secret, ttl=86400)
    assert not token_ok(server, key.sid, key.secret, ttl=86400 + 60)


def test_the_cli_lists_and_revokes_keys(server):
    key = server.client().new_keys.create(friendly_name="cli")
    env = {**os.environ, "ROOMREEL_DATA_DIR": str(server.settings.data_dir),
           "ROOMREEL_DATABASE_URL": server.settings.database_url}  # fmt: skip

    def roomreel(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pipeline.cli", *args], env=env, capture_output=True, text=True
        )

    listed = roomreel("keys", "list")
    assert listed.returncode == 0 and key.sid in listed.stdout and key.secret not in listed.stdout
    assert roomreel("keys", "revoke", key.sid).returncode == 0
    assert not token_ok(server, key.sid, key.secret)
    missing = roomreel("keys", "revoke", key.sid)
    assert missing.returncode != 0 and "no API key" in missing.stderr and "Traceback" not in missing.stderr
    assert roomreel("token", "--identity", "a", "--ttl", "90000").returncode != 0
