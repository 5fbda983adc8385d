"""SIGKILL the server (SFU and in-process recorder) mid-room: after a restart every track is
recovered to within 1 s of the kill, and the room still completes and composes."""

from __future__ import annotations

import asyncio
import signal
import time

import av
import httpx
import pytest

from pipeline.client import RoomClient
from pipeline.client.synthetic_tracks import ColourVideoTrack, MediaClock, ToneAudioTrack
from pipeline.config import Settings
from pipeline.db import Database
from tests.live_server import ServeProcess
from tests.waiting import wait_for

pytestmark = pytest.mark.media


def test_killed_recorder_recovers_every_track_to_within_a_second(tmp_path):
    server = ServeProcess.prepare(tmp_path)
    base, auth = server.base, server.auth
    settings = Settings.from_env(server.env)
    server.start()
    try:
        httpx.post(
            f"{base}/v1/Rooms", auth=auth, data={"UniqueName": "crash", "RecordParticipantsOnConnect": "true"}
        ).raise_for_status()
        httpx.post(
            f"{base}/v1/CompositionHooks",
            auth=auth,
            data={"FriendlyName": "after crash", "AudioSources": "*", "Format": "mp4",
                  "VideoLayout": '{"grid": {"video_sources": ["*"]}}'},
        ).raise_for_status()  # fmt: skip

        async def scenario() -> float:
            clients = []
            for name, colour in (("alice", (220, 40, 40)), ("bob", (40, 200, 60))):
                token = server.token(name, "crash")
                client = await RoomClient(base, token).connect()
                clock = MediaClock()
                await client.publish(ColourVideoTrack(colour, clock), "camera")
                await client.publish(ToneAudioTrack(440, clock), "microphone")
                clients.append(client)
            # Media must flow for a while: the recordings recovered after the kill last 3 s or more.
            await asyncio.sleep(4)
            server.proc.send_signal(signal.SIGKILL)
            killed = time.time()
            await asyncio.gather(*(c.leave() for c in clients), return_exceptions=True)
            return killed

        killed = asyncio.run(scenario())
        server.proc.wait(10)
        server.start()  # recovery runs at start-up
        recordings = []

        def all_finished() -> bool:
            nonlocal recordings
            recordings = httpx.get(f"{base}/v1/Recordings", auth=auth).json()["recordings"]
            return len(recordings) == 4 and all(r["status"] != "processing" for r in recordings)

        wait_for(all_finished, 60, "recordings to be finished after the restart")
        room = httpx.get(f"{base}/v1/Rooms", auth=auth, params={"Status": "completed"}).json()["rooms"][0]
        with Database(settings.database_url).session() as session:
            from pipeline.db.models import Recording, Room

            created = session.get(Room, room["sid"]).date_created.timestamp()
            starts = {r["sid"]: session.get(Recording, r["sid"]).start for r in recordings}
        for r in recordings:
            assert r["status"] == "completed", r
            media = tmp_path / "storage" / "rooms" / room["sid"] / f"{r['sid']}.{r['container_format']}"
            with av.open(str(media)) as container:
                stream = container.streams[0]
                last = 0.0
                for frame in container.decode(stream):
                    last = float(frame.time)
            end = starts[r["sid"]] + last
            assert killed - (created + end) <= 1.0, (r["type"], killed - created, end)
            assert r["duration"] >= 3

        def composed() -> bool:
            items = httpx.get(f"{base}/v1/Compositions", auth=auth).json()["compositions"]
            return bool(items) and items[0]["status"] in ("completed", "failed")

        wait_for(composed, 120, "the hook's composition after the restart")
        composition = httpx.get(f"{base}/v1/Compositions", auth=auth).json()["compositions"][0]
        assert composition["status"] == "completed"
        assert composition["duration"] >= 3
    finally:
        server.stop(kill=True)
