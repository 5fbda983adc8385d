"""Who gets in: access tokens, identities, limits, and the room's state in the REST API."""

from __future__ import annotations

import asyncio
import time

import pytest
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VideoGrant

from pipeline.accounts import create_api_key
from pipeline.client import RoomClient, RoomClientError
from pipeline.sfu.access_token import mint
from tests.pipeline.sfu.conftest import join, leave_all, publish_av
from tests.waiting import wait_for


def refused(live, token: str, room: str | None = None) -> RoomClientError:
    async def attempt():
        client = RoomClient(live.base, token, room=room)
        with pytest.raises(RoomClientError) as caught:
            await client.connect()
        await client.leave()
        return caught.value

    return asyncio.run(attempt())


def test_a_token_from_the_official_twilio_library_is_accepted(live):
    key = create_api_key(live.db, live.account_sid)
    token = AccessToken(live.account_sid, key.sid, key.secret, identity="twilio-made")
    token.add_grant(VideoGrant(room="official"))

    async def scenario():
        client = await RoomClient(live.base, token.to_jwt()).connect()
        identity = client.identity
        await client.leave()
        return identity

    assert asyncio.run(scenario()) == "twilio-made"


def test_bad_tokens_are_refused(live):
    key = create_api_key(live.db, live.account_sid)
    expired = mint(live.account_sid, key.sid, key.secret, "x", "r", ttl=60, now=time.time() - 3600)
    assert refused(live, expired).code == 20104
    wrong_secret = mint(live.account_sid, key.sid, "not-the-secret", "x", "r")
    assert refused(live, wrong_secret).code == 20107
    unknown_key = mint(live.account_sid, "SK" + "0" * 32, key.secret, "x", "r")
    assert refused(live, unknown_key).code == 20103
    assert refused(live, "not.a.jwt").code == 20101
    other_room = mint(live.account_sid, key.sid, key.secret, "x", "room-a")
    assert refused(live, other_room, room="room-b").code == 53106
    # Its exp passed 0.1 to 1.1 s ago, as a ttl=1 token's would after waiting 1.1 s.
    just_expired = AccessToken(
        live.account_sid, key.sid, key.secret, identity="x", valid_until=int(time.time() - 0.1)
    )
    just_expired.add_grant(VideoGrant(room="r"))
    jwt = just_expired.to_jwt()
    assert refused(live, jwt).code == 20104  # no grace after exp


def test_a_grant_may_name_the_room_by_sid_while_the_client_names_it_by_unique_name(live):
    twilio = live.client()
    room = twilio.video.v1.rooms.create(unique_name="by-sid")
    other = twilio.video.v1.rooms.create(unique_name="not-by-sid")
    key = create_api_key(live.db, live.account_sid)
    token = AccessToken(live.account_sid, key.sid, key.secret, identity="sid-holder")
    token.add_grant(VideoGrant(room=room.sid))

    async def scenario():
        client = await RoomClient(live.base, token.to_jwt(), room="by-sid").connect()
        joined = client.room_sid
        await client.leave()
        return joined

    assert asyncio.run(scenario()) == room.sid
    assert refused(live, token.to_jwt(), room="not-by-sid").code == 53106
    assert refused(live, token.to_jwt(), room=other.sid).code == 53106
    rooms = {r.unique_name for r in twilio.video.v1.rooms.list(status="in-progress")}
    assert "not-by-sid" in rooms and not any(n.startswith("RM") for n in rooms)  # no stray ad hoc room
    unknown = "RM" + "f" * 32  # a SID names an existing room; it never makes one
    assert refused(live, live.token("nobody"), room=unknown).code == 53106
    assert not [r for r in twilio.video.v1.rooms.list(status="in-progress") if r.unique_name == unknown]


def test_a_second_connection_with_the_same_identity_replaces_the_first(live):
    async def scenario():
        first = await join(live, "dup", "dups")
        second = await join(live, "dup", "dups")
        await first.wait_until(lambda: first.disconnected is not None)
        room = live.app.state.sfu.rooms[second.room_sid]
        identities = [p.identity for p in room.participants.values()]
        await leave_all(first, second)
        return first.disconnected, identities

    disconnected, identities = asyncio.run(scenario())
    assert disconnected["code"] == 53205
    assert identities == ["dup"]


def test_max_participants_is_enforced(live):
    room = live.client().video.v1.rooms.create(unique_name="tiny", max_participants=1)

    async def scenario():
        first = await join(live, "one", "tiny")
        with pytest.raises(RoomClientError) as caught:
            await join(live, "two", "tiny")
        await first.leave()
        return first.room_sid, caught.value.code

    sid, code = asyncio.run(scenario())
    assert sid == room.sid
    assert code == 53105


def test_concurrent_joins_cannot_overfill_a_room_or_share_an_identity(live):
    live.client().video.v1.rooms.create(unique_name="race", max_participants=2)

    async def attempt(identity: str):
        try:
            return await join(live, identity, "race")
        except RoomClientError as exc:
            return exc

    async def scenario():
        full = await asyncio.gather(*(attempt(f"p{i}") for i in range(4)))
        joined = [c for c in full if not isinstance(c, RoomClientError)]
        codes = sorted(c.code for c in full if isinstance(c, RoomClientError))
        await leave_all(*joined)
        twins = await asyncio.gather(attempt("twin"), attempt("twin"))
        room = live.app.state.sfu.rooms[twins[0].room_sid]
        # The first twin is replaced by the second: wait for it to be gone.
        await twins[1].wait_until(lambda: len(room.participants) == 1, 20)
        identities = [p.identity for p in room.participants.values()]
        await leave_all(*twins)
        return len(joined), codes, identities

    joined, codes, identities = asyncio.run(scenario())
    assert (joined, codes) == (2, [53105, 53105])
    assert identities == ["twin"]


def test_live_room_state_in_the_rest_api_and_completion_disconnects_everyone(live):
    twilio = live.client()

    async def scenario():
        alice, bob = await join(live, "alice", "rest"), await join(live, "bob", "rest")
        await publish_av(alice, (200, 0, 0))
        await bob.wait_until(lambda: len(bob.remote) == 2)
        room = await asyncio.to_thread(twilio.video.v1.rooms(alice.room_sid).fetch)
        people = await asyncio.to_thread(twilio.video.v1.rooms(room.sid).participants.list)
        alice_rest = await asyncio.to_thread(twilio.video.v1.rooms(room.sid).participants(alice.sid).fetch)
        tracks = await asyncio.to_thread(
            twilio.video.v1.rooms(room.sid).participants(alice.sid).published_tracks.list
        )
        await asyncio.to_thread(twilio.video.v1.rooms(room.sid).update, status="completed")
        await alice.wait_until(lambda: alice.disconnected is not None and bob.disconnected is not None)
        ended = await asyncio.to_thread(twilio.video.v1.rooms(room.sid).fetch)
        await leave_all(alice, bob)
        return room, people, alice_rest, tracks, alice.disconnected, ended

    room, people, alice_rest, tracks, disconnected, ended = asyncio.run(scenario())
    assert room.unique_name == "rest" and room.status == "in-progress"
    assert sorted(p.identity for p in people) == ["alice", "bob"]
    assert alice_rest.status == "connected"
    assert sorted((t.name, t.kind) for t in tracks) == [("camera", "video"), ("microphone", "audio")]
    assert disconnected["code"] == 53118
    assert ended.status == "completed"


def test_participant_removed_through_the_rest_api(live):
    twilio = live.client()

    async def scenario():
        alice = await join(live, "alice", "kick")
        await asyncio.to_thread(
            twilio.video.v1.rooms(alice.room_sid).participants(alice.sid).update, status="disconnected"
        )
        await alice.wait_until(lambda: alice.disconnected is not None)
        await alice.leave()
        return alice.disconnected

    assert asyncio.run(scenario())["code"] == 53216


def test_a_participant_that_left_is_not_kept_in_memory(live):
    import gc
    import weakref

    async def scenario():
        alice = await join(live, "alice", "memory")
        room = live.app.state.sfu.rooms[alice.room_sid]
        ref = weakref.ref(room.participants[alice.sid])
        await alice.leave()
        # The socket and both peer connections close, and the room lets it go.
        await alice.wait_until(lambda: alice.sid not in room.participants, 20)
        return ref

    ref = asyncio.run(scenario())
    # Its MaxParticipantDuration timer no longer holds it for hours.
    wait_for(lambda: gc.collect() >= 0 and ref() is None, 20, "the participant to be freed", every=0.1)
