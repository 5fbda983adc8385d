"""`roomreel recorder --room` records from its own process, joined over WebRTC as a hidden participant."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import av
import pytest

from pipeline.embedded import compose_pending
from pipeline.sfu import SfuSettings
from tests.live_server import running_server
from tests.pipeline.sfu.conftest import join, leave_all, publish_av
from tests.waiting import wait_for

pytestmark = pytest.mark.media


def test_external_recorder_records_the_room_and_the_hook_composes_it(tmp_path):
    env = {"ROOMREEL_RECORDER": "external"}
    with running_server(tmp_path, sfu=SfuSettings(hosts=["127.0.0.1"], timeout_unit=0.5), env=env) as live:
        twilio = live.client()
        room = twilio.video.v1.rooms.create(unique_name="isolated", record_participants_on_connect=True)
        twilio.video.v1.composition_hooks.create(
            friendly_name="isolated grid", video_layout={"grid": {"video_sources": ["*"]}}, audio_sources=["*"],
            format="mp4",
        )  # fmt: skip
        child_env = {**os.environ, "ROOMREEL_DATA_DIR": str(tmp_path), "ROOMREEL_PUBLIC_URL": live.base}

        async def scenario():
            recorder = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "pipeline.cli", "recorder", "--room", "isolated", "--url", live.base,
                env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
            alice = await join(live, "alice", "isolated")
            # The recorder is a process of its own: on a loaded machine it starts in seconds.
            sfu_room = live.app.state.sfu.rooms[room.sid]
            await alice.wait_until(lambda: any(p.hidden for p in sfu_room.participants.values()), timeout=30)
            seen = [p["identity"] for p in alice.participants.values()]
            bob = await join(live, "bob", "isolated")
            await publish_av(alice, (220, 40, 40))
            await publish_av(bob, (40, 200, 60))
            # Media must flow, each recording lasting 2 s or more: 3 s of it at the SFU (150 Opus
            # frames, 45 video frames at 15 fps), however late it starts on a loaded machine.
            enough = {"audio": 150, "video": 45}
            await alice.wait_until(
                lambda: (
                    len(sfu_room.tracks()) == 4 and all(t.frames >= enough[t.kind] for t in sfu_room.tracks())
                ),
                30,
            )
            await asyncio.to_thread(twilio.video.v1.rooms(room.sid).update, status="completed")
            out, err = await asyncio.wait_for(recorder.communicate(), 60)
            await leave_all(alice, bob)
            return seen, recorder.returncode, out.decode(), err.decode()

        seen, code, out, err = asyncio.run(scenario())
        assert seen == []  # the recorder is nobody's peer
        assert code == 0, err
        recordings = twilio.video.v1.rooms(room.sid).recordings.list()
        assert sorted((r.type, r.status) for r in recordings) == [
            ("audio", "completed"), ("audio", "completed"), ("video", "completed"), ("video", "completed")
        ]  # fmt: skip
        assert len(out.split()) == 8  # four "RT... completed" lines
        storage = live.app.state.services.storage
        for r in recordings:
            assert r.duration >= 2
            path = storage.get_file(f"rooms/{room.sid}/{r.sid}.{r.container_format}", tmp_path / r.sid)
            with av.open(str(path)) as container:
                assert sum(1 for _ in container.decode(container.streams[0])) > 20
        assert storage.exists(f"rooms/{room.sid}/room.json")
        wait_for(lambda: compose_pending(live.db, storage) > 0, 60, "the hook's composition")
        assert twilio.video.v1.compositions.list(room_sid=room.sid)[0].status == "completed"
