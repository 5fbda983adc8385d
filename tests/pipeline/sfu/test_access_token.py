"""Access tokens: the same bytes as Twilio's library, and every way one is refused."""

from __future__ import annotations

import time

import pytest
from twilio.jwt.access_token import AccessToken as TwilioToken
from twilio.jwt.access_token.grants import VideoGrant

from pipeline.sfu.access_token import AccessTokenError, mint, verify

AC, SK, SECRET = "AC" + "a" * 32, "SK" + "b" * 32, "s3cret-long-enough-for-hs256-keys!"


def secrets(account: str, key: str) -> str | None:
    return SECRET if (account, key) == (AC, SK) else None


def test_minted_tokens_verify_with_grants():
    grant = verify(mint(AC, SK, SECRET, "alice", "standup"), secrets)
    assert (grant.identity, grant.room, grant.account_sid, grant.key_sid) == ("alice", "standup", AC, SK)


def test_twilio_library_tokens_verify():
    token = TwilioToken(AC, SK, SECRET, identity="bob", ttl=600)
    token.add_grant(VideoGrant(room="standup"))
    assert verify(token.to_jwt(), secrets, room="standup").identity == "bob"


def test_a_token_without_a_room_takes_the_requested_one():
    assert verify(mint(AC, SK, SECRET, "alice"), secrets, room="any").room == "any"


@pytest.mark.parametrize(
    "token, room, code",
    [
        (mint(AC, SK, SECRET, "a", "r", ttl=10, now=time.time() - 100), None, 20104),
        (mint(AC, SK, "wrong", "a", "r"), None, 20107),
        (mint(AC, "SK" + "c" * 32, SECRET, "a", "r"), None, 20103),
        (mint(AC, SK, SECRET, "", "r"), None, 20101),
        (mint(AC, SK, SECRET, "a", "r"), "other", 53106),
        ("garbage", None, 20101),
        ("a.b.c", None, 20101),
    ],
)
def test_refusals(token, room, code):
    with pytest.raises(AccessTokenError) as caught:
        verify(token, secrets, room=room)
    assert caught.value.code == code
