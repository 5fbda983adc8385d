"""`roomreel bot`: a synthetic participant (tests, the demo, load tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import av
from aiortc.contrib.media import MediaPlayer

from .room_client import RoomClient
from .synthetic_tracks import ColourVideoTrack, MediaClock, ToneAudioTrack


@dataclass
class BotOptions:
    url: str
    token: str
    room: str | None = None
    # testsrc | none | a media file: sent as is when it already holds the room's codec in a form
    # RTP carries (VP8, Annex-B H.264, Opus), else decoded and re-encoded
    video: str = "testsrc"
    audio: str = "tone"  # tone | none | a media file
    duration: float = 30.0
    colour: tuple[int, int, int] = (220, 40, 40)
    tone_hz: float = 440.0
    size: tuple[int, int] = (320, 240)
    fps: int = 15
    flash_every: float = 2.0
    # Told what the bot is doing (joined, publishing, leaving): the CLI prints it to stderr.
    announce: Callable[[str], None] = field(default=lambda _line: None)


def sends_as_is(path: str, kinds: list[str], room_codec: str) -> bool:
    """Whether every stream of `kinds` in the file can go out without re-encoding: the room's
    video codec (H.264 only as Annex-B, which RTP packetizing splits; MP4 and Matroska hold it
    length-prefixed) and Opus audio."""
    try:
        with av.open(path) as container:
            streams = {s.type: s for s in container.streams if s.type in kinds}
            annex_b = container.format.name in ("h264", "mpegts")
    except av.FFmpegError as exc:
        raise ValueError(f"{path}: not a readable media file ({exc})") from None
    for kind in kinds:
        stream = streams.get(kind)
        if stream is None:
            raise ValueError(f"{path} has no {kind} stream")
        name = stream.codec_context.name
        if kind == "audio" and name != "opus":
            return False
        if kind == "video" and not (
            name == room_codec.lower() == "vp8" or (name == room_codec.lower() == "h264" and annex_b)
        ):
            return False
    return True


RECONNECT_EVERY = 1.0  # seconds between attempts after a dropped connection


async def _publish(
    client: RoomClient, options: BotOptions, clock: MediaClock, players: dict[str, MediaPlayer]
) -> None:
    for kind, choice in (("video", options.video), ("audio", options.audio)):
        if choice == "none":
            continue
        if choice in ("testsrc", "tone"):
            track = (
                ColourVideoTrack(options.colour, clock, options.size, options.fps)
                if kind == "video"
                else ToneAudioTrack(options.tone_hz, clock)
            )
        else:
            if choice not in players:
                wanted = [k for k, c in (("video", options.video), ("audio", options.audio)) if c == choice]
                as_is = sends_as_is(choice, wanted, client.codec)
                players[choice] = MediaPlayer(choice, decode=not as_is, loop=True)
            player = players[choice]
            track = player.video if kind == "video" else player.audio
            if track is None:
                raise ValueError(f"{choice} has no {kind} stream")
        await client.publish(track, "camera" if kind == "video" else "microphone")


async def _reconnect(options: BotOptions, deadline: float) -> RoomClient | None:
    """What the SDKs do when a connection drops (a node died, the network went): join again
    until the room takes the bot, or its time is up. In a cluster the room goes on, under the
    same SID, on a live node."""
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        try:
            return await RoomClient(options.url, options.token, options.room, decode=False).connect(
                timeout=10
            )
        except Exception as exc:
            options.announce(f"reconnecting: {exc}")
            await asyncio.sleep(RECONNECT_EVERY)
    return None


async def run_bot(options: BotOptions) -> dict[str, Any]:
    client: RoomClient | None = await RoomClient(
        options.url, options.token, options.room, decode=False
    ).connect()
    clock = MediaClock(flash_every=options.flash_every)
    players: dict[str, MediaPlayer] = {}  # one per file: --video and --audio may name two
    loop = asyncio.get_running_loop()
    deadline = loop.time() + options.duration
    received: dict[str, int] = {}
    first = client
    reconnects = 0
    try:
        while client is not None:
            await _publish(client, options, clock, players)
            published = " and ".join(sorted(client.local)) or "nothing"
            options.announce(
                f"{client.identity} joined room {options.room or ''} ({client.room_sid}) as {client.sid}; "
                f"publishing {published} for {deadline - loop.time():.3g} s"
            )
            while loop.time() < deadline and not client.dropped:
                await asyncio.sleep(0.1)
            received.update({t.sid: t.frames for t in client.remote.values()})
            if not client.dropped:
                break
            options.announce(f"{client.identity} lost its connection to room {client.room_sid}")
            await client.leave()
            client = await _reconnect(options, deadline)
            reconnects += client is not None
        options.announce(f"{first.identity} leaves room {first.room_sid}")
        return {
            "identity": first.identity,
            "participant_sid": first.sid,
            "room_sid": first.room_sid,
            "flashes": clock.flash_times(options.duration),
            "received": received,
            "reconnects": reconnects,
        }
    finally:
        if client is not None:
            await client.leave()
        for player in players.values():
            for track in (player.audio, player.video):
                if track is not None:
                    track.stop()
