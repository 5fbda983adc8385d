"""The recording participant of one process: it follows each live room's tracks and rules, and
turns finished spans into uploaded Recordings and, when the room ends, the room manifest."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from pipeline.db import Database
from pipeline.db.models import Room as RoomRow
from pipeline.logs import log_context
from pipeline.media.levels import levels_key, levels_name
from pipeline.rooms import manifest_data
from pipeline.sfu.published_track import DRAIN_GRACE, PublishedTrack
from pipeline.sfu.room import Room
from pipeline.sids import new_sid
from pipeline.storage import Storage
from pipeline.storage.external import CustomerStorageRefused, customer_storage_for

from . import recording_state
from .finalize import finalize
from .journal import JournalError, being_written, read_header
from .rules import should_record
from .track_recorder import TrackRecorder

log = logging.getLogger("roomreel.recording")


class Recorder:
    """Attach with `sfu.room_openers.append(recorder.attach)`."""

    def __init__(self, db: Database, storage: Storage, spool: Path) -> None:
        self.db = db
        self.storage = storage
        self.spool = spool
        self.rooms: dict[str, RoomRecorder] = {}

    def attach(self, room: Room) -> None:
        recorder = RoomRecorder(self, room)
        self.rooms[room.sid] = recorder
        room.observers.append(recorder)

    def live_recordings(self) -> set[str]:
        return {sid for r in self.rooms.values() for sid in r.active}

    def journal_path(self, room_sid: str, recording_sid: str) -> Path:
        return self.spool / room_sid / f"{recording_sid}.rrj"

    # -- finishing one recording (blocking: runs in a thread) ---------------------------------------
    def finish(self, recording_sid: str, room_sid: str, room_created: float) -> str:
        """Journal -> Matroska -> storage (verified) -> row completed; or failed with the reason."""
        with log_context(room_sid=room_sid, recording_sid=recording_sid):
            outcome = self._finish(recording_sid, room_sid, room_created)
            log.info("recording %s", outcome)
        return outcome

    def _finish(self, recording_sid: str, room_sid: str, room_created: float) -> str:
        journal = self.journal_path(room_sid, recording_sid)
        if not journal.exists():
            recording_state.recording_failed(self.db, recording_sid, "nothing was recorded: no journal")
            return "failed"
        try:
            header = read_header(journal)
            ext = "mkv" if header["kind"] == "video" else "mka"
            media = finalize(journal, journal.with_suffix("." + ext), room_created)
        except (JournalError, OSError, ValueError, KeyError) as exc:
            recording_state.recording_failed(self.db, recording_sid, f"unrecoverable recording: {exc}")
            journal.unlink(missing_ok=True)
            return "failed"
        key = f"rooms/{room_sid}/{recording_sid}.{media.container}"
        size = self.storage.put_file(key, media.path)  # verified; raises and keeps the files otherwise
        if media.levels is not None:
            # Beside the media, so a composition that follows the speaker needs no decoding.
            levels = media.levels.save(journal.with_name(levels_name(recording_sid)))
            self.storage.put_file(levels_key(room_sid, recording_sid), levels)
            levels.unlink(missing_ok=True)
        external = None
        account_sid = _account_of(self.db, room_sid)
        try:
            customer = customer_storage_for(self.db, account_sid, "recording")
        except CustomerStorageRefused as exc:
            # The recording is kept in roomreel's storage; the settings need fixing, not a retry.
            log.warning("recording %s stays in roomreel's storage: %s", recording_sid, exc)
            customer = None
        if customer is not None:
            # Twilio's layout in the customer's bucket: {AccountSid}/{RecordingSid}.{ext}
            target = f"{account_sid}/{recording_sid}.{media.container}"
            customer.put_file(target, media.path)
            external = customer.location(target)
        recording_state.recording_completed(
            self.db,
            recording_sid,
            key,
            size,
            start=media.first_arrival - room_created,
            duration=media.duration,
            width=media.width,
            height=media.height,
            external=external,
        )
        media.path.unlink(missing_ok=True)
        journal.unlink(missing_ok=True)
        return "completed"

    def write_manifest(self, room_sid: str, ended: float | None = None) -> str:
        with self.db.session() as session:
            room = session.get(RoomRow, room_sid)
            data, _ = manifest_data(session, room)
            if ended is not None and data["ended_at"] is None:
                data["ended_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ended))
        key = f"rooms/{room_sid}/room.json"
        path = self.spool / room_sid / "room.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2))
        self.storage.put_file(key, path)
        path.unlink(missing_ok=True)
        with self.db.session() as session:
            session.get(RoomRow, room_sid).manifest_key = key
        return key

    def recover(self, journals_only: bool = False) -> dict[str, str]:
        """Finish every `processing` recording no live recorder owns (after a crash); SID -> outcome.

        With `journals_only` (an external recorder's host), recordings whose journal is not here
        are left to their own host instead of failing for want of one."""
        outcomes = {}
        for sid, room_sid in recording_state.unfinished(self.db, self.live_recordings()):
            journal = self.journal_path(room_sid, sid)
            if being_written(journal) or (journals_only and not journal.exists()):
                continue
            created = recording_state.room_created_at(self.db, room_sid)
            outcomes[sid] = self.finish_safely(sid, room_sid, created)
        return outcomes

    def finish_safely(self, recording_sid: str, room_sid: str, room_created: float) -> str:
        """`finish`, except that a failed upload leaves the recording `processing` for a retry
        (at the next start-up or by `finalize_recording`) instead of raising."""
        try:
            return self.finish(recording_sid, room_sid, room_created)
        except Exception as exc:
            log.error("recording %s could not be finished: %s", recording_sid, exc)
            return "processing"

    def close_and_finish(
        self, writer: TrackRecorder, room_sid: str, room_created: float, rows: Executor
    ) -> str:
        """Close a span's journal and finish it (blocking). `rows` is the executor that wrote the
        span's row: waiting on it means the row exists before it is finished."""
        writer.close()
        rows.submit(lambda: None).result()
        return self.finish_safely(writer.sid, room_sid, room_created)


def _account_of(db: Database, room_sid: str) -> str:
    with db.session() as session:
        return session.get(RoomRow, room_sid).account_sid


class RoomRecorder:
    """Follows one live room (a RoomObserver)."""

    def __init__(self, recorder: Recorder, room: Room) -> None:
        self.recorder = recorder
        self.room = room
        self.rules: list[dict[str, Any]] = list(room.settings.recording_rules)
        self.active: dict[str, TrackRecorder] = {}  # recording SID -> writer
        self._draining: dict[str, asyncio.TimerHandle] = {}  # recording SID -> its stop, once unpublished
        self._finishing: set[asyncio.Future] = set()

    @property
    def db(self) -> Database:
        return self.recorder.db

    def _writer_of(self, track: PublishedTrack) -> TrackRecorder | None:
        return next((w for w in self.active.values() if w.track is track), None)

    def _in_thread(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future:
        future = asyncio.ensure_future(asyncio.to_thread(fn, *args))
        self._finishing.add(future)
        future.add_done_callback(self._finishing.discard)
        return future

    # -- RoomObserver ------------------------------------------------------------------------------
    def track_published(self, track: PublishedTrack) -> None:
        if should_record(self.rules, track.facts()):
            self._start(track)

    def track_unpublished(self, track: PublishedTrack, drain: bool) -> None:
        writer = self._writer_of(track)
        if writer is not None and not drain:
            self._stop(writer)
        elif writer is not None and writer.sid not in self._draining:
            # Frames still in flight when the unpublish or leave arrived belong to the recording.
            self._draining[writer.sid] = asyncio.get_running_loop().call_later(
                DRAIN_GRACE, self._stop, writer
            )

    def track_enabled(self, track: PublishedTrack, enabled: bool) -> None:
        writer = self._writer_of(track)
        if writer is not None:
            kind = "enabled" if enabled else "disabled"
            self.room.sfu.state_writer.later(
                recording_state.add_event, self.db, writer.sid, self.room.room_time(), kind
            )

    def rules_changed(self, rules: list[dict[str, Any]]) -> None:
        self.rules = list(rules)
        for track in self.room.tracks():
            wanted = should_record(self.rules, track.facts())
            writer = self._writer_of(track)
            if wanted and writer is None:
                self._start(track)
            elif not wanted and writer is not None:
                self._stop(writer)

    async def room_closed(self) -> None:
        if self._draining:
            loop = asyncio.get_running_loop()
            await asyncio.sleep(max(h.when() for h in self._draining.values()) - loop.time())
        for writer in list(self.active.values()):
            self._stop(writer)
        if self._finishing:
            await asyncio.gather(*self._finishing, return_exceptions=True)
        if self.recorder.rooms.get(self.room.sid) is self:  # not a successor opened meanwhile
            del self.recorder.rooms[self.room.sid]
        await asyncio.to_thread(self.recorder.write_manifest, self.room.sid, time.time())

    # -- spans -------------------------------------------------------------------------------------
    def _start(self, track: PublishedTrack) -> None:
        sid = new_sid("RT")
        journal = self.recorder.journal_path(self.room.sid, sid)
        # The row first (in event order with the track's own rows), then the frames.
        self.room.sfu.state_writer.later(
            recording_state.recording_started,
            self.db,
            sid,
            self.room.sid,
            track.publisher.sid,
            track.sid,
            track.name,
            track.kind,
            track.codec,
        )
        writer = TrackRecorder(sid, track, journal, self.room.sid)
        if not track.enabled:
            self.room.sfu.state_writer.later(
                recording_state.add_event, self.db, sid, self.room.room_time(), "disabled"
            )
        self.active[sid] = writer
        writer.start()

    def _stop(self, writer: TrackRecorder) -> None:
        if self.active.pop(writer.sid, None) is None:
            return
        drain = self._draining.pop(writer.sid, None)
        if drain is not None:
            drain.cancel()
        writer.detach()
        self._in_thread(
            self.recorder.close_and_finish,
            writer,
            self.room.sid,
            self.room.created,
            self.room.sfu.state_writer.executor,
        )
