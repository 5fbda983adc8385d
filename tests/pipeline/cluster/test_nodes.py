"""Two nodes, one room: joined through either node, ended through either node's REST API."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from sqlalchemy import select

from pipeline.client import RoomClient
from pipeline.db.models import Recording, Room
from tests.pipeline.cluster.conftest import live_rooms
from tests.pipeline.sfu.conftest import leave_all, publish_av
from tests.waiting import wait_for

pytestmark = pytest.mark.services
RED, GREEN = (220, 40, 40), (40, 200, 60)


def mean_rgb(frame) -> tuple[int, ...]:
    return tuple(int(v) for v in frame.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0))


def close_to(colour, expected, tolerance=30) -> bool:
    return bool(np.all(np.abs(np.array(colour) - np.array(expected)) <= tolerance))


def receives_both(client: RoomClient, frames: int = 20) -> bool:
    tracks = [t for t in client.remote.values() if t.published]
    return len(tracks) == 2 and all(t.frames > frames for t in tracks)


async def exchange(alice: RoomClient, bob: RoomClient) -> None:
    """Alice publishes red, Bob green, until each receives the other's audio and video."""
    await publish_av(alice, RED, 400)
    await publish_av(bob, GREEN, 600)
    await alice.wait_until(lambda: receives_both(alice), 30)
    await bob.wait_until(lambda: receives_both(bob), 30)


def recorded_room(cluster, name: str):
    """A room made through node A's REST API and recorded: (room, the node it runs on, the other)."""
    a, b = cluster.nodes
    # UnusedRoomTimeout 60 "minutes" of 0.5 s: the room waits for a slow first join (a browser).
    room = cluster.client(a).video.v1.rooms.create(
        unique_name=name, record_participants_on_connect=True, unused_room_timeout=60
    )
    holder = a if room_row(cluster, room.sid).node_id == "node-a" else b
    return room, holder, b if holder is a else a


def room_row(cluster, sid: str) -> Room:
    with cluster.db.session() as session:
        return session.get(Room, sid)


def recordings(cluster, room_sid: str) -> list[Recording]:
    with cluster.db.session() as session:
        return list(session.scalars(select(Recording).where(Recording.room_sid == room_sid)))


def test_a_room_made_on_one_node_is_joined_through_both_and_ended_through_the_other(cluster):
    a, b = cluster.nodes
    room = cluster.client(a).video.v1.rooms.create(unique_name="across", record_participants_on_connect=True)
    holder = room_row(cluster, room.sid).node_id
    assert holder in ("node-a", "node-b")

    async def scenario():
        alice = await RoomClient(a.base, cluster.token("alice", "across")).connect()
        bob = await RoomClient(b.base, cluster.token("bob", "across")).connect()
        assert alice.room_sid == bob.room_sid == room.sid
        await exchange(alice, bob)
        seen = (
            mean_rgb(next(t for t in alice.remote.values() if t.kind == "video").last_frame),
            mean_rgb(next(t for t in bob.remote.values() if t.kind == "video").last_frame),
        )
        other = b if holder == "node-a" else a
        await asyncio.to_thread(
            lambda: cluster.client(other).video.v1.rooms(room.sid).update(status="completed")
        )
        await alice.wait_until(lambda: alice.disconnected is not None, 20)
        await bob.wait_until(lambda: bob.disconnected is not None, 20)
        await leave_all(alice, bob)
        return seen

    alice_sees, bob_sees = asyncio.run(scenario())
    assert close_to(alice_sees, GREEN), alice_sees
    assert close_to(bob_sees, RED), bob_sees
    assert room_row(cluster, room.sid).status == "completed"
    done = wait_for(
        lambda: (
            (rows := recordings(cluster, room.sid)) and all(r.status == "completed" for r in rows) and rows
        ),
        60,
        "the room's recordings to complete",
    )
    assert sorted(r.type for r in done) == ["audio", "audio", "video", "video"]
    assert all(r.duration and r.duration >= 1 for r in done)


def test_ten_rooms_spread_over_both_nodes_and_either_lists_them_all(cluster):
    a, b = cluster.nodes
    sids = [
        cluster.client(node).video.v1.rooms.create(unique_name=f"spread-{i}").sid
        for i, node in enumerate([a, b] * 5)
    ]
    placed = [room_row(cluster, sid).node_id for sid in sids]
    assert placed.count("node-a") >= 1 and placed.count("node-b") >= 1, placed
    for node in (a, b):
        listed = {r.sid for r in cluster.client(node).video.v1.rooms.list(status="in-progress")}
        assert set(sids) <= listed
    for node, name in ((a, "node-a"), (b, "node-b")):
        assert live_rooms(node) == placed.count(name), name

    def cluster_rooms(node) -> dict[str, float]:
        """roomreel_node_rooms per node, as one node's /metrics shows the whole cluster."""
        lines = cluster.http(node).get("/metrics").text.splitlines()
        return {
            line.split('node="')[1].split('"')[0]: float(line.split()[-1])
            for line in lines
            if line.startswith("roomreel_node_rooms{")
        }

    expected = {"node-a": placed.count("node-a"), "node-b": placed.count("node-b")}
    for node in (a, b):
        wait_for(lambda node=node: cluster_rooms(node) == expected, 10, "every node's load in /metrics")


async def rejoin(cluster, node, identity: str, room: str, within: float = 30.0) -> RoomClient:
    """What an SDK does when its connection drops: connect again, until the room takes it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            return await RoomClient(node.base, cluster.token(identity, room)).connect(timeout=10)
        except Exception:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.5)


def both_colours(img: np.ndarray) -> bool:
    h, w, _ = img.shape
    seen = [tuple(int(v) for v in img[h // 2 - 4 : h // 2 + 4, x - 4 : x + 4].reshape(-1, 3).mean(axis=0))
            for x in (w // 4, 3 * w // 4)]  # fmt: skip
    return (close_to(seen[0], RED, 40) and close_to(seen[1], GREEN, 40)) or (
        close_to(seen[0], GREEN, 40) and close_to(seen[1], RED, 40)
    )


def test_a_killed_node_s_room_goes_on_elsewhere_and_nothing_recorded_is_lost(cluster):
    from tests.media_checks import video_frames

    a, b = cluster.nodes
    room, holder, other = recorded_room(cluster, "survivor")

    async def scenario():
        alice = await RoomClient(holder.base, cluster.token("alice", "survivor")).connect()
        bob = await RoomClient(other.base, cluster.token("bob", "survivor")).connect()  # relayed
        await exchange(alice, bob)
        await asyncio.sleep(3)
        await asyncio.to_thread(holder.kill)
        await alice.wait_until(lambda: alice.dropped, 15)
        await bob.wait_until(lambda: bob.dropped, 15)
        await leave_all(alice, bob)
        alice = await rejoin(cluster, other, "alice", "survivor")
        bob = await rejoin(cluster, other, "bob", "survivor")
        assert alice.room_sid == bob.room_sid == room.sid
        await exchange(alice, bob)
        await asyncio.sleep(3)
        # The killed node comes back and finishes the recordings it had from their journals.
        await asyncio.to_thread(holder.start)
        await asyncio.to_thread(
            lambda: cluster.client(holder).video.v1.rooms(room.sid).update(status="completed")
        )
        await alice.wait_until(lambda: alice.disconnected is not None, 30)
        await leave_all(alice, bob)

    asyncio.run(scenario())
    row = room_row(cluster, room.sid)
    assert row.status == "completed" and row.node_id == other.env["ROOMREEL_NODE_ID"]
    done = wait_for(
        lambda: (
            (rows := recordings(cluster, room.sid)) and all(r.status == "completed" for r in rows) and rows
        ),
        90,
        "every recording of both spans to complete",
    )
    assert len(done) == 8, [(r.type, r.status) for r in done]  # audio and video of two people, twice

    composition = cluster.client(other).video.v1.compositions.create(
        room_sid=room.sid,
        video_layout={"grid": {"video_sources": ["*"]}},
        audio_sources=["*"],
        format="mp4",
        trim=False,  # keep the gap, which shows where one span ends and the other begins
    )
    wait_for(
        lambda: (
            cluster.client(a).video.v1.compositions(composition.sid).fetch().status in ("completed", "failed")
        ),
        180,
        "the composition",
    )
    assert cluster.client(a).video.v1.compositions(composition.sid).fetch().status == "completed"
    with cluster.http(a) as http:
        url = http.get(f"/v1/Compositions/{composition.sid}/Media").json()["redirect_to"]
        out = cluster.storage.parent / "composed.mp4"
        out.write_bytes(httpx_get(url))
    frames = video_frames(out)
    # The recordings of the first span end when the node died; the second span's begin after.
    killed_at = max(r.end for r in sorted(done, key=lambda r: r.start)[:4])
    assert sum(r.start >= killed_at for r in done) == 4, [(r.start, r.end) for r in done]
    # Both people are on screen for most of each span (a flash breaks a colour for a frame).
    shown = [t for t, img in frames if both_colours(img)]
    step = frames[1][0] - frames[0][0]
    before = sum(t < killed_at for t in shown) * step
    after = sum(t > killed_at for t in shown) * step
    assert before >= 1.5 and after >= 1.5, (killed_at, before, after)


def httpx_get(url: str) -> bytes:
    import httpx

    response = httpx.get(url, timeout=30, follow_redirects=True)
    response.raise_for_status()
    return response.content


def test_sigterm_drains_a_node_it_takes_no_new_room_and_exits_when_its_rooms_end(cluster):
    import signal

    a, b = cluster.nodes
    room = cluster.client(a).video.v1.rooms.create(unique_name="draining")
    assert room_row(cluster, room.sid).node_id == "node-a"  # equal load: the node asked keeps it

    async def scenario():
        alice = await RoomClient(a.base, cluster.token("alice", "draining")).connect()
        a.proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(1.0)
        made = await asyncio.to_thread(
            lambda: cluster.client(a).video.v1.rooms.create(unique_name="after-term")
        )
        carol = await RoomClient(a.base, cluster.token("carol", "joined-after-term")).connect()
        placed = (room_row(cluster, made.sid).node_id, room_row(cluster, carol.room_sid).node_id)
        assert a.proc.poll() is None, "a draining node keeps serving its rooms"
        await alice.ping()
        await asyncio.to_thread(lambda: cluster.client(b).video.v1.rooms(room.sid).update(status="completed"))
        await alice.wait_until(lambda: alice.disconnected is not None, 20)
        await leave_all(alice, carol)
        return placed

    assert asyncio.run(scenario()) == ("node-b", "node-b")
    assert a.proc.wait(30) == 0, a.log()[-2000:]


def test_rest_operations_on_a_live_room_reach_its_node_from_the_other(cluster):
    a, b = cluster.nodes
    room, holder, other = recorded_room(cluster, "remote-ops")
    rest = cluster.client(other).video.v1.rooms(room.sid)

    async def scenario():
        alice = await RoomClient(holder.base, cluster.token("alice", "remote-ops")).connect()
        bob = await RoomClient(other.base, cluster.token("bob", "remote-ops")).connect()
        await exchange(alice, bob)
        subscribed = await asyncio.to_thread(
            lambda: {t.name for t in rest.participants(alice.sid).subscribed_tracks.list()}
        )
        assert subscribed == {"camera", "microphone"}

        await asyncio.to_thread(
            lambda: rest.participants(alice.sid).subscribe_rules.update(
                rules=[{"type": "exclude", "all": True}]
            )
        )
        await asyncio.sleep(1.0)
        left = await asyncio.to_thread(lambda: rest.participants(alice.sid).subscribed_tracks.list())
        assert left == []

        await asyncio.to_thread(lambda: rest.recording_rules.update(rules=[{"type": "exclude", "all": True}]))
        await asyncio.to_thread(
            wait_for,
            lambda: (rows := recordings(cluster, room.sid)) and all(r.status != "processing" for r in rows),
            20,
            "recordings to stop",
        )

        await asyncio.to_thread(lambda: rest.participants(bob.sid).update(status="disconnected"))
        await bob.wait_until(lambda: bob.disconnected is not None, 15)
        code = bob.disconnected.get("code")
        await leave_all(alice, bob)
        return code

    assert asyncio.run(scenario()) == 53216


def test_bots_behind_one_load_balancer_reconnect_when_the_room_s_node_dies(cluster):
    from pipeline.client.bot import BotOptions, run_bot
    from tests.tcp_balancer import TcpBalancer

    room, holder, other = recorded_room(cluster, "balanced")
    with TcpBalancer([("127.0.0.1", node.port) for node in cluster.nodes]) as balancer:

        async def scenario():
            bots = [
                asyncio.ensure_future(
                    run_bot(
                        BotOptions(
                            balancer.base,
                            cluster.token(who, "balanced"),
                            "balanced",
                            duration=14,
                            colour=colour,
                            size=(160, 120),
                        )
                    )  # fmt: skip
                )
                for who, colour in (("alice", RED), ("bob", GREEN))
            ]
            await asyncio.sleep(6)
            await asyncio.to_thread(holder.kill)
            return await asyncio.gather(*bots)

        results = asyncio.run(scenario())
    assert [r["reconnects"] for r in results] == [1, 1], results
    assert {r["room_sid"] for r in results} == {room.sid}
    assert all(min(r["received"].values(), default=0) > 20 for r in results), results
    assert room_row(cluster, room.sid).node_id == other.env["ROOMREEL_NODE_ID"]
    with cluster.db.session() as session:
        from pipeline.db.models import Participant

        spans = session.scalars(select(Participant.identity).where(Participant.room_sid == room.sid)).all()
    assert sorted(spans) == ["alice", "alice", "bob", "bob"]  # one participant per span each


def test_a_node_closes_a_room_the_database_says_another_node_took_over(cluster):
    """The fence against two nodes running one room: a node that looked dead for a while (a
    Redis outage, a long pause) and lost its room to another node closes it at its next
    heartbeat, and its participants, reconnecting, reach the room where it runs now."""
    from sqlalchemy import update

    room, holder, other = recorded_room(cluster, "fenced")

    async def scenario():
        alice = await RoomClient(holder.base, cluster.token("alice", "fenced")).connect()
        with cluster.db.session() as session:
            session.execute(
                update(Room).where(Room.sid == room.sid).values(node_id=other.env["ROOMREEL_NODE_ID"])
            )
        await alice.wait_until(lambda: alice.disconnected is not None or alice.dropped, 10)
        code = (alice.disconnected or {}).get("code")
        await leave_all(alice)
        again = await RoomClient(holder.base, cluster.token("alice", "fenced")).connect()  # relayed now
        sid = again.room_sid
        await leave_all(again)
        return code, sid

    code, sid = asyncio.run(scenario())
    assert code == 53000
    assert sid == room.sid
