"""`roomreel recorder --room NAME`: the recording participant in its own process, for isolation.

It joins over WebRTC as a hidden participant (`grants.video.recorder`), receives every track as
encoded frames, and records what the room's rules select with the same journals, finalization,
upload and manifest as the in-process recorder. The SFU waits for its uploads before the room
completes, so hooks compose everything it recorded.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.client import RemoteTrack, RoomClient
from pipeline.db import Database
from pipeline.sfu import room_state
from pipeline.sfu.frame_assembler import EncodedFrame
from pipeline.sids import new_sid
from pipeline.storage import Storage

from . import recording_state
from .recorder import Recorder
from .rules import TrackFacts, should_record
from .track_recorder import TrackRecorder

RULES_EVERY = 1.0  # seconds between reads of the room's recording rules


@dataclass
class RemoteSource:
    """What a TrackRecorder needs of a track it receives over WebRTC instead of in-process."""

    sid: str
    kind: str
    codec: str
    clock_rate: int

    def attach(self, sink) -> None:
        pass

    def detach(self, sink) -> None:
        pass


class RemoteRecorder:
    def __init__(self, url: str, token: str, db: Database, storage: Storage, spool: Path) -> None:
        self.client = RoomClient(url, token, decode=False)
        self.recorder = Recorder(db, storage, spool)
        self.db = db
        self.writers: dict[str, TrackRecorder] = {}  # track SID -> its current span
        self.finished: dict[str, str] = {}  # recording SID -> outcome
        self.rules: list[dict[str, Any]] = []
        self._db_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recorder-db")
        self._finishing: list[asyncio.Future] = []
        self._created = 0.0

    @property
    def room_sid(self) -> str:
        return self.client.room_sid

    def _room_time(self) -> float:
        return time.time() - self._created

    async def run(self, stop: asyncio.Event | None = None) -> dict[str, str]:
        stop = stop or asyncio.Event()
        self.client.on_encoded_frame = self._on_frame
        self.client.on_message = self._on_message
        await self.client.connect()
        self._created = await asyncio.to_thread(recording_state.room_created_at, self.db, self.room_sid)
        self.rules = await asyncio.to_thread(room_state.recording_rules, self.db, self.room_sid)
        while not stop.is_set() and self.client.disconnected is None and not self._socket_closed():
            try:
                await asyncio.wait_for(stop.wait(), RULES_EVERY)
            except TimeoutError:
                pass
            rules = await asyncio.to_thread(room_state.recording_rules, self.db, self.room_sid)
            if rules != self.rules:
                self.rules = rules
                self._apply_rules()
        for track_sid in list(self.writers):
            self._stop(track_sid)
        await self.client.leave()
        if self._finishing:
            await asyncio.gather(*self._finishing, return_exceptions=True)
        await asyncio.to_thread(self.recorder.write_manifest, self.room_sid, time.time())
        self._db_writer.shutdown(wait=True)
        return self.finished

    def _socket_closed(self) -> bool:
        return self.client._reader is not None and self.client._reader.done()

    def _facts(self, track: RemoteTrack) -> TrackFacts:
        return TrackFacts(track.sid, track.name, track.kind, track.participant_sid, track.identity)

    def _wanted(self, track: RemoteTrack) -> bool:
        return track.published and should_record(self.rules, self._facts(track))

    # -- frames and events --------------------------------------------------------------------------
    def _on_frame(self, mid: str, frame: EncodedFrame) -> None:
        track_sid = self.client._slots.get(mid)
        track = self.client.remote.get(track_sid) if track_sid else None
        if track is None:
            return
        writer = self.writers.get(track.sid)
        if writer is None and self._wanted(track):
            writer = self._start(track)
        if writer is not None:
            writer.push(frame)

    def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "track_unpublished" and message.get("track_sid") in self.writers:
            self._stop(message["track_sid"])
        elif kind in ("track_enabled", "track_disabled") and message.get("track_sid") in self.writers:
            writer = self.writers[message["track_sid"]]
            event = "enabled" if kind == "track_enabled" else "disabled"
            self._db_writer.submit(recording_state.add_event, self.db, writer.sid, self._room_time(), event)
        elif kind == "participant_disconnected":
            for track in self.client.remote.values():
                if track.participant_sid == message.get("participant_sid") and track.sid in self.writers:
                    self._stop(track.sid)

    def _apply_rules(self) -> None:
        for track in list(self.client.remote.values()):
            if not self._wanted(track) and track.sid in self.writers:
                self._stop(track.sid)
        # Newly selected tracks start with their next frame (in _on_frame).

    # -- spans ------------------------------------------------------------------------------------
    def _start(self, track: RemoteTrack) -> TrackRecorder:
        sid = new_sid("RT")
        codec = self.client.codec if track.kind == "video" else "opus"
        source = RemoteSource(track.sid, track.kind, codec, 90_000 if track.kind == "video" else 48_000)
        self._db_writer.submit(
            recording_state.recording_started,
            self.db,
            sid,
            self.room_sid,
            track.participant_sid,
            track.sid,
            track.name,
            track.kind,
            codec,
        )
        if not track.enabled:
            self._db_writer.submit(recording_state.add_event, self.db, sid, self._room_time(), "disabled")
        writer = TrackRecorder(sid, source, self.recorder.journal_path(self.room_sid, sid), self.room_sid)
        self.writers[track.sid] = writer
        return writer

    def _stop(self, track_sid: str) -> None:
        writer = self.writers.pop(track_sid)

        def close_and_finish() -> None:
            outcome = self.recorder.close_and_finish(writer, self.room_sid, self._created, self._db_writer)
            self.finished[writer.sid] = outcome

        self._finishing.append(asyncio.ensure_future(asyncio.to_thread(close_and_finish)))
