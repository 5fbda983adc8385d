"""`roomreel demo`: one real room on the embedded defaults, recorded and composed.

It starts the server (API, SFU on 127.0.0.1, recorder, in-process workers), creates a room that
records everyone and a grid composition hook, and runs four bots with distinct colours and
tones for 20 s (carol joins late, dave leaves early, bob turns his camera off for 2 s). Then it
completes the room, waits for the recordings and the composition, checks the output, and prints
the composed file's path last.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
import time
from pathlib import Path

import av
import httpx
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn
from rich.table import Table

from pipeline.accounts import create_api_key, ensure_account
from pipeline.api.app import create_app
from pipeline.client import RoomClient
from pipeline.client.synthetic_tracks import ColourVideoTrack, MediaClock, ToneAudioTrack
from pipeline.config import Settings
from pipeline.db import Database
from pipeline.embedded import EmbeddedWorkers
from pipeline.media.synthetic import COLORS
from pipeline.sfu import SfuSettings
from pipeline.sfu.access_token import mint

SECONDS = 20.0
# identity, colour, tone, joins at, leaves at, camera off (from, to)
BOTS = [
    ("alice", COLORS[0], 330.0, 0.0, SECONDS, None),
    ("bob", COLORS[1], 440.0, 0.5, SECONDS, (8.0, 10.0)),
    ("carol", COLORS[2], 550.0, 5.0, SECONDS, None),
    ("dave", COLORS[3], 660.0, 1.0, 15.0, None),
]


class DemoError(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DemoServer:
    """`roomreel serve` in a thread, stopped (with its workers) on exit."""

    def __init__(self, directory: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {"ROOMREEL_DATA_DIR": str(directory), "ROOMREEL_PUBLIC_URL": self.base}
        self.settings = Settings.from_env(env)
        self.db = Database(self.settings.database_url)
        self.db.upgrade()
        account, _ = ensure_account(self.db, self.settings)
        self.auth = (account.sid, account.auth_token)
        self.key = create_api_key(self.db, account.sid, "demo")
        self.app = create_app(self.settings, self.db, public_url=self.base, sfu_settings=SfuSettings())
        self.storage = self.app.state.services.storage
        self.workers = EmbeddedWorkers(self.db, self.storage, interval=0.5, spool_dir=directory / "spool")
        self._server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> DemoServer:
        self._thread.start()
        deadline = time.time() + 30
        while not self._server.started:
            if time.time() > deadline or not self._thread.is_alive():
                raise DemoError("the server did not start")
            time.sleep(0.05)
        self.workers.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.workers.stop()
        self._server.should_exit = True
        self._thread.join(15)
        self.db.engine.dispose()

    def token(self, identity: str) -> str:
        return mint(self.auth[0], self.key.sid, self.key.secret, identity, "demo")


async def _bot(server: DemoServer, identity, colour, tone, join_at, leave_at, off) -> None:
    await asyncio.sleep(join_at)
    client = await RoomClient(server.base, server.token(identity), decode=False).connect()
    clock = MediaClock(flash_every=4.0, flash_first=1.0 + join_at % 1)
    # Named after their participant, as the README's tour selects them (alice*, alice-cam).
    await client.publish(ColourVideoTrack(colour, clock), f"{identity}-cam")
    await client.publish(ToneAudioTrack(tone, clock), f"{identity}-mic")
    if off is not None:
        await asyncio.sleep(off[0] - join_at)
        await client.set_enabled(f"{identity}-cam", False)
        await asyncio.sleep(off[1] - off[0])
        await client.set_enabled(f"{identity}-cam", True)
        await asyncio.sleep(leave_at - off[1])
    else:
        await asyncio.sleep(leave_at - join_at)
    await client.leave()


async def _run_room(server: DemoServer, console: Console) -> None:
    with console.status(f"4 bots in room 'demo' for {SECONDS:.0f} s (carol joins late, dave leaves early)"):
        await asyncio.gather(*(_bot(server, *bot) for bot in BOTS))


def _wait(server: DemoServer, http: httpx.Client, room_sid: str, console: Console) -> dict:
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("recordings", total=None)
        deadline = time.time() + 240
        while time.time() < deadline:
            recordings = http.get(f"/v1/Rooms/{room_sid}/Recordings").json()["recordings"]
            if recordings and all(r["status"] != "processing" for r in recordings):
                break
            time.sleep(0.5)
        bar.update(task, total=1, completed=1)
        task = bar.add_task("composition", total=100)
        while time.time() < deadline:
            items = http.get("/v1/Compositions", params={"RoomSid": room_sid}).json()["compositions"]
            if items:
                composition = items[0]
                with server.db.session() as session:
                    from pipeline.db.models import Composition

                    progress = session.get(Composition, composition["sid"]).progress
                bar.update(task, completed=progress)
                if composition["status"] in ("completed", "failed"):
                    return composition
            time.sleep(0.5)
    raise DemoError("the composition did not finish within 4 minutes")


def _check(path: Path) -> float:
    with av.open(str(path)) as container:
        kinds = sorted(s.type for s in container.streams)
        duration = (container.duration or 0) / 1e6
        video = container.streams.video[0]
        size = (video.codec_context.width, video.codec_context.height)
    if kinds != ["audio", "video"] or size != (1280, 720) or abs(duration - SECONDS) > 1.5:
        raise DemoError(f"composition check failed: streams {kinds}, {size}, {duration:.2f} s")
    return duration


def _save_frame(video: Path, at: float, out: Path) -> Path:
    with av.open(str(video)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= at:
                frame.to_image().save(out)
                return out
    raise DemoError(f"{video} has no frame at {at} s")


def run(console: Console | None = None) -> Path:
    console = console or Console(stderr=True)
    directory = Path(Settings.from_env().data_dir) / "demo"
    shutil.rmtree(directory, ignore_errors=True)  # each demo is a fresh room
    console.print(f"[bold]roomreel demo[/bold]: a live room, recorded and composed, in {directory}")
    with (
        DemoServer(directory) as server,
        httpx.Client(base_url=server.base, auth=server.auth, timeout=30) as http,
    ):
        room = http.post(
            "/v1/Rooms", data={"UniqueName": "demo", "RecordParticipantsOnConnect": "true"}
        ).json()
        http.post(
            "/v1/CompositionHooks",
            data={
                "FriendlyName": "demo grid",
                "VideoLayout": '{"grid": {"video_sources": ["*"]}}',
                "AudioSources": "*",
                "Resolution": "1280x720",
                "Format": "mp4",
            },
        ).raise_for_status()
        asyncio.run(_run_room(server, console))
        http.post(f"/v1/Rooms/{room['sid']}", data={"Status": "completed"}).raise_for_status()
        composition = _wait(server, http, room["sid"], console)
        recordings = http.get(f"/v1/Rooms/{room['sid']}/Recordings").json()["recordings"]
        participants = http.get(f"/v1/Rooms/{room['sid']}/Participants", params={"PageSize": 50}).json()
        identities = {p["sid"]: p["identity"] for p in participants["participants"]}
        if composition["status"] != "completed":
            raise DemoError(f"composition {composition['sid']} failed: {composition.get('error_message')}")
        with server.db.session() as session:
            from pipeline.db.models import Composition

            key = session.get(Composition, composition["sid"]).media_key
        out = Path(server.settings.storage_url.removeprefix("file://")) / key
    duration = _check(out)
    preview = _save_frame(out, 9.5, directory / "preview.png")  # bob is off, nobody flashes
    table = Table(title=f"recordings of room {room['sid']}")
    for column in ("sid", "participant", "track", "kind", "codec", "status", "duration", "bytes"):
        table.add_column(column)
    for r in sorted(recordings, key=lambda r: r["date_created"]):
        table.add_row(
            r["sid"],
            identities.get(r["grouping_sids"].get("participant_sid", ""), ""),
            r["track_name"],
            r["type"],
            r["codec"],
            r["status"],
            f"{r['duration']} s",
            str(r["size"]),
        )
    console.print(table)
    room_dir = _link_room(directory, out.parents[2] / "rooms" / room["sid"])
    console.print(
        f"composition {composition['sid']}: {duration:.1f} s, 1280x720 mp4; preview frame: {preview}\n"
        f"room directory: {room_dir} (room.json and one file per track: `roomreel compose` and "
        "`roomreel layout` take it)\n"
        f"to browse it: ROOMREEL_DATA_DIR={directory} roomreel serve, then http://127.0.0.1:8080/dashboard "
        f"with account {server.auth[0]} and auth token {server.auth[1]}"
    )
    return out


def _link_room(directory: Path, room_dir: Path) -> Path:
    """`DATA_DIR/demo/room`: the same path after every demo, for the tour's commands."""
    link = directory / "room"
    link.unlink(missing_ok=True)
    link.symlink_to(room_dir, target_is_directory=True)
    return link
