"""Twilio's client-side room creation switch and a per-account ceiling on rooms in progress
(#17.10): a token without a room of its own cannot open rooms without end."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from twilio.base.exceptions import TwilioRestException

from pipeline.client import RoomClient
from tests.pipeline.sfu.test_admission import refused


@pytest.fixture
def limited(live):
    """The module's server with other room settings for one test."""
    sfu = live.app.state.sfu
    before = sfu.settings

    def apply(**changes):
        sfu.settings = replace(before, **changes)

    yield apply
    sfu.settings = before


def joined(live, token: str) -> str:
    async def run():
        client = await RoomClient(live.base, token).connect()
        sid = client.room_sid
        await client.leave()
        return sid

    return asyncio.run(run())


def test_with_client_room_creation_off_a_token_joins_only_rooms_made_through_rest(live, limited):
    limited(client_room_creation=False)
    error = refused(live, live.token("alice", "made-by-a-client"))
    assert error.code == 53106 and "client-side room creation is off" in error.message
    room = live.client().video.v1.rooms.create(unique_name="made-by-rest")
    assert joined(live, live.token("alice", "made-by-rest")) == room.sid
    assert not live.client().video.v1.rooms.list(unique_name="made-by-a-client")


def test_rooms_in_progress_have_a_ceiling_per_account(live, limited):
    in_progress = len(live.client().video.v1.rooms.list(status="in-progress"))
    limited(max_concurrent_rooms=in_progress + 2)
    rest = live.client().video.v1.rooms
    made = [rest.create(unique_name=f"ceiling-{i}") for i in range(2)]
    with pytest.raises(TwilioRestException) as caught:
        rest.create(unique_name="ceiling-over")
    assert caught.value.status == 429 and caught.value.code == 53103
    error = refused(live, live.token("mallory", "ceiling-ad-hoc"))
    assert error.code == 53103 and "rooms in progress" in error.message
    # A room that exists is joined at the ceiling; ending one makes room for another.
    assert joined(live, live.token("alice", "ceiling-0")) == made[0].sid
    rest(made[1].sid).update(status="completed")
    assert rest.create(unique_name="ceiling-after").status == "in-progress"
