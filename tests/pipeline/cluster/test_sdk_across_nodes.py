"""twilio-video.js (the npm package, in Chromium) joins a cluster's room through whichever node
its `wsServer` names: the node relays `/signaling` to the room's node, media goes straight there."""

from __future__ import annotations

import pytest

from tests.pipeline.cluster.test_nodes import recorded_room
from tests.pipeline.sfu.twilio.sdk_browser import SdkBrowser, connect, events
from tests.waiting import wait_for

pytestmark = [pytest.mark.media, pytest.mark.slow, pytest.mark.services]


def frames(page, identity: str) -> int:
    return page.evaluate("(who) => window.tv.frames(who, 'video')", identity)


def test_sdk_participants_on_both_nodes_see_each_other_and_the_room_ends_through_either(cluster):
    room, holder, other = recorded_room(cluster, "sdk-across")
    browser = SdkBrowser(other.base)
    try:
        alice, bob = browser.page(), browser.page(holder.base)  # alice's socket is relayed
        joined = connect(alice, cluster.token("alice", "sdk-across"), name="sdk-across")
        assert joined["ok"], joined
        assert joined["sid"] == room.sid
        assert connect(bob, cluster.token("bob", "sdk-across"), name="sdk-across")["ok"]
        wait_for(lambda: frames(alice, "bob") > 20 and frames(bob, "alice") > 20, 30, "video both ways")
        people = {
            p.identity
            for p in cluster.client(other).video.v1.rooms(room.sid).participants.list(status="connected")
        }
        assert people == {"alice", "bob"}
        cluster.client(other).video.v1.rooms(room.sid).update(status="completed")
        for page in (alice, bob):
            wait_for(lambda page=page: events(page, "disconnected"), 20, "the room to end at the SDK")
            assert events(page, "disconnected")[0]["code"] == 53118
    finally:
        browser.close()
    recordings = cluster.client(holder).video.v1.rooms(room.sid).recordings.list()
    assert sorted(r.type for r in recordings) == ["audio", "audio", "video", "video"]
