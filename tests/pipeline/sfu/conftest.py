"""One live server (API + SFU on 127.0.0.1) per module, and helpers to run participants."""

from __future__ import annotations

import asyncio
import logging

import pytest

from pipeline.client import RoomClient
from pipeline.client.synthetic_tracks import ColourVideoTrack, MediaClock, ToneAudioTrack
from pipeline.sfu import SfuSettings
from tests.live_server import running_server


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    # Room timeouts in 0.5 s "minutes", so empty rooms end quickly between tests.
    settings = SfuSettings(hosts=["127.0.0.1"], timeout_unit=0.5)
    with running_server(tmp_path_factory.mktemp("sfu"), sfu=settings) as server:
        yield server


class DecodeErrors(logging.Handler):
    """aiortc logs a warning for every frame its decoder refuses."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "failed to decode" in record.getMessage():
            self.count += 1


@pytest.fixture
def decode_errors():
    handler = DecodeErrors()
    logger = logging.getLogger("aiortc.rtcrtpreceiver")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


async def join(server, identity: str, room: str, decode: bool = True) -> RoomClient:
    return await RoomClient(server.base, server.token(identity, room), decode=decode).connect()


async def publish_av(client: RoomClient, colour, tone_hz: float = 440.0, clock: MediaClock | None = None):
    clock = clock or MediaClock()
    await client.publish(ColourVideoTrack(colour, clock), "camera")
    await client.publish(ToneAudioTrack(tone_hz, clock), "microphone")
    return clock


async def leave_all(*clients: RoomClient) -> None:
    await asyncio.gather(*(c.leave() for c in clients), return_exceptions=True)
