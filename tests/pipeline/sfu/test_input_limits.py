"""Signaling applies the REST API's input rules (#17.9): names and identities of at most 128
characters without control characters, and a ceiling on published tracks."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.client import RoomClient, RoomClientError
from tests.pipeline.sfu.test_admission import refused


def test_room_names_and_identities_follow_the_rest_rules(live):
    # twilio-video.js: 53101 RoomNameTooLongError, 53102 RoomNameCharsInvalidError
    assert refused(live, live.token("alice"), room="bad\x00room").code == 53102
    assert refused(live, live.token("alice"), room="r" * 129).code == 53101
    assert refused(live, live.token("eve\nINFO forged", "fine-room")).code == 20101


def publish_many(live, room: str, names: list[str]) -> RoomClientError | None:
    async def run():
        client = await RoomClient(live.base, live.token("alice", room)).connect()
        try:
            for name in names:
                await client.publish_data(name)
        except RoomClientError as exc:
            return exc
        finally:
            await client.leave()
        return None

    return asyncio.run(run())


@pytest.mark.parametrize(("name", "code"), [("bad\x00name", 53302), ("n" * 129, 53301)])
def test_track_names_follow_the_rest_rules(live, name, code):
    error = publish_many(live, f"names-{code}", [name])
    assert error is not None and error.code == code


def test_published_tracks_have_a_ceiling(live):
    error = publish_many(live, "many-tracks", [f"data-{i}" for i in range(40)])
    assert error is not None and error.code == 53305 and "32" in error.message
