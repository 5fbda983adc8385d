"""`roomreel bot`: a synthetic participant (tests, the demo, load tests)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiortc.contrib.media import MediaPlayer

from .room_client import RoomClient
from .synthetic_tracks import ColourVideoTrack, MediaClock, ToneAudioTrack


@dataclass
class BotOptions:
    url: str
    token: str
    room: str | None = None
    video: str = "testsrc"  # testsrc | none | a file with VP8/H.264 (sent as is, never re-encoded)
    audio: str = "tone"  # tone | none | a file with Opus
    duration: float = 30.0
    colour: tuple[int, int, int] = (220, 40, 40)
    tone_hz: float = 440.0
    size: tuple[int, int] = (320, 240)
    fps: int = 15
    flash_every: float = 2.0


async def run_bot(options: BotOptions) -> dict[str, Any]:
    client = await RoomClient(options.url, options.token, options.room, decode=False).connect()
    clock = MediaClock(flash_every=options.flash_every)
    player = None
    try:
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
                player = player or MediaPlayer(choice, decode=False, loop=True)
                track = player.video if kind == "video" else player.audio
                if track is None:
                    raise ValueError(f"{choice} has no {kind} stream")
            await client.publish(track, "camera" if kind == "video" else "microphone")
        await asyncio.sleep(options.duration)
        return {
            "identity": client.identity,
            "participant_sid": client.sid,
            "room_sid": client.room_sid,
            "flashes": clock.flash_times(options.duration),
            "received": {t.sid: t.frames for t in client.remote.values()},
        }
    finally:
        await client.leave()
