"""Copying one account's rooms into roomreel, a room at a time, resumably.

A room's rows are written in one transaction after all of its media is stored and verified,
so a room is either imported whole or not at all: an interrupted run imports it again, and
media already stored with the right size is not downloaded twice. SIDs are the source's.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
from sqlalchemy import select, update

from pipeline.db import Database
from pipeline.db.models import (
    Composition,
    CompositionHook,
    Participant,
    PublishedTrack,
    Recording,
    Room,
    StorageSettings,
)
from pipeline.rooms import manifest_data
from pipeline.storage import Storage

from .source import SourceError, TwilioSource
from .timing import placements

log = logging.getLogger("roomreel.import")


@dataclass
class Summary:
    rooms: int = 0
    skipped: int = 0
    recordings: int = 0
    compositions: int = 0
    bytes: int = 0
    hooks: int = 0
    not_copied: list[tuple[str, str]] = field(default_factory=list)  # (SID, why)


@dataclass
class Media:
    sid: str
    url: str
    key: str
    size: int  # as the source states it; 0 when unknown
    start: float = 0.0  # the file's first timestamp, seconds
    duration: float = 0.0
    error: str | None = None


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# A room's settings that Twilio reports and roomreel keeps as they were, when the source has them.
ROOM_SETTINGS = (
    "max_participant_duration",
    "max_concurrent_published_tracks",
    "audio_only",
    "empty_room_timeout",
    "unused_room_timeout",
    "large_room",
)


def _optional(source: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(source, name) for name in names if getattr(source, name, None) is not None}


def _spec(source: Any) -> dict[str, Any]:
    """What a composition or a hook composes, as the source describes it."""
    return {
        "video_layout": source.video_layout or {},
        "audio_sources": list(source.audio_sources or []),
        "audio_sources_excluded": list(source.audio_sources_excluded or []),
        "resolution": source.resolution or "640x480",
        "format": source.format or "webm",
        "trim": bool(source.trim),
    }


def _probe(path: Path) -> tuple[float, float]:
    """(first timestamp, duration) of a file's first stream, in seconds."""
    with av.open(str(path)) as container:
        stream = container.streams[0]
        first = last = None
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            t = float(packet.pts * packet.time_base)
            first = t if first is None else min(first, t)
            end = t + float((packet.duration or 0) * packet.time_base)
            last = end if last is None else max(last, end)
    return first or 0.0, max(0.0, (last or 0.0) - (first or 0.0))


def time_left(elapsed: float, done: int, left: int) -> str:
    """The rest of a run at the pace of the rooms copied so far, for a progress line."""
    if done <= 0 or left <= 0:
        return ""
    seconds = elapsed / done * left
    return f", about {seconds / 60:.0f} min left" if seconds >= 90 else f", about {seconds:.0f} s left"


ROOMS_AT_ONCE = 4  # rooms listed and written at once; downloads are bounded by `concurrency`


class TwilioImport:
    def __init__(
        self,
        source: TwilioSource,
        db: Database,
        storage: Storage,
        account_sid: str,
        concurrency: int = 4,
        progress: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.source = source
        self.db = db
        self.storage = storage
        self.account_sid = account_sid
        self.concurrency = max(1, concurrency)
        self.progress = progress
        self.summary = Summary()
        self._counting = threading.Lock()
        self._downloads: ThreadPoolExecutor | None = None
        self._to_copy, self._started = 0, 0.0  # rooms this run copies, and when it started them

    def run(
        self, since=None, until=None, rooms: list[str] | None = None, account_wide: bool = True
    ) -> Summary:
        """Copies every listed room. Up to `concurrency` downloads run at once across rooms (a room
        of few recordings must not leave the others idle), and a few rooms at once list, write
        rows and manifests while others download. `account_wide`: hooks and settings too (a
        queued import's room jobs leave them to the command that queued them)."""
        if account_wide:
            self.hooks_and_settings()
        listed = self.listed(since, until, rooms)
        room_pool = ThreadPoolExecutor(min(self.concurrency, ROOMS_AT_ONCE), thread_name_prefix="import-room")
        self._downloads = ThreadPoolExecutor(self.concurrency, thread_name_prefix="import")
        try:
            running = []
            for number, room in enumerate(listed, 1):
                if self.imported(room.sid):
                    self.summary.skipped += 1
                    self.summary.not_copied += self.left_out(room.sid)
                    self.progress(f"room {number}/{len(listed)} {room.sid}: imported already")
                    continue
                if room.status != "completed":
                    self.summary.not_copied.append((room.sid, f"the room is {room.status}"))
                    continue
                running.append(room_pool.submit(self._counted_room, room, number, len(listed)))
            self._to_copy, self._started = len(running), time.monotonic()
            for future in running:
                future.result()
        finally:
            # Interrupted (SIGINT): rooms not started are dropped, rooms under way finish; a room
            # counts as imported only once its rows are written, so the next run redoes the rest.
            room_pool.shutdown(wait=True, cancel_futures=True)
            self._downloads.shutdown(wait=True, cancel_futures=True)
        return self.summary

    def listed(self, since=None, until=None, rooms: list[str] | None = None) -> list[Any]:
        """The source's rooms to copy, oldest first."""
        return sorted(
            self.source.rooms(since, until, rooms),
            key=lambda r: _utc(r.date_created) or datetime.min.replace(tzinfo=UTC),
        )

    def _counted_room(self, room: Any, number: int, total: int) -> None:
        self._room(room)
        with self._counting:
            self.summary.rooms += 1
            self.progress(
                f"room {number}/{total} {room.sid}: {self.summary.recordings} recordings, "
                f"{self.summary.bytes / 1e6:.1f} MB so far{self._time_left()}"
            )

    def _time_left(self) -> str:
        """The rest of this run at the pace of the rooms copied so far."""
        if not self._started:
            return ""
        return time_left(
            time.monotonic() - self._started, self.summary.rooms, self._to_copy - self.summary.rooms
        )

    # -- account-wide -------------------------------------------------------------------------
    def hooks_and_settings(self) -> None:
        hooks = self.source.hooks()
        with self.db.session() as session:
            for hook in hooks:
                if session.get(CompositionHook, hook.sid) is not None:
                    continue
                session.add(
                    CompositionHook(
                        sid=hook.sid,
                        account_sid=self.account_sid,
                        friendly_name=hook.friendly_name or hook.sid,
                        enabled=bool(hook.enabled),
                        **_spec(hook),
                        status_callback=hook.status_callback,
                        status_callback_method=hook.status_callback_method or "POST",
                        date_created=_utc(hook.date_created),
                        date_updated=_utc(hook.date_updated) or _utc(hook.date_created),
                    )
                )
                self.summary.hooks += 1
        settings = self.source.settings()
        with self.db.session() as session:
            for kind, found in settings.items():
                if session.get(StorageSettings, (self.account_sid, kind)) is not None:
                    continue
                # Credentials are Twilio's and stay there: the operator enters the bucket's own.
                session.add(
                    StorageSettings(
                        account_sid=self.account_sid,
                        kind=kind,
                        friendly_name=found.friendly_name or "",
                        aws_s3_url=found.aws_s3_url,
                        aws_storage_enabled=False,
                    )
                )
                if found.aws_storage_enabled:
                    self.summary.not_copied.append(
                        (
                            f"{kind.capitalize()}Settings",
                            "AWS storage is off until its credentials are entered again",
                        )
                    )

    # -- one room --------------------------------------------------------------------------------
    def imported(self, room_sid: str) -> bool:
        with self.db.session() as session:
            return session.get(Room, room_sid) is not None

    def left_out(self, room_sid: str) -> list[tuple[str, str]]:
        """What an earlier run of this import could not copy of a room, so every summary says."""
        with self.db.session() as session:
            rows = session.scalars(
                select(Recording).where(Recording.room_sid == room_sid, Recording.status != "completed")
            ).all()
            return [(r.sid, r.error_message or f"the recording is {r.status} at the source") for r in rows]

    def _room(self, room: Any) -> None:
        participants = self.source.participants(room.sid)
        recordings = self.source.recordings(room.sid)
        compositions = self.source.compositions(room.sid)
        media = [
            Media(r.sid, r.links["media"], f"rooms/{room.sid}/{r.sid}.{r.container_format}", r.size or 0)
            for r in recordings
            if r.status == "completed"
        ] + [
            Media(c.sid, c.links["media"], f"compositions/{self.account_sid}/{c.sid}.{c.format}", c.size or 0)
            for c in compositions
            if c.status == "completed"
        ]
        with tempfile.TemporaryDirectory(prefix="roomreel-import-") as tmp:
            list(self._downloads.map(lambda m: self._fetch(m, Path(tmp)), media))
        by_sid = {m.sid: m for m in media}
        for item in media:
            if item.error:
                self.summary.not_copied.append((item.sid, item.error))
        for r in recordings:
            if r.status != "completed":
                self.summary.not_copied.append((r.sid, f"the recording is {r.status} at the source"))
        stored = {r.sid: by_sid[r.sid] for r in recordings if r.sid in by_sid and not by_sid[r.sid].error}
        starts = placements({r.sid: int(r.offset or 0) for r in recordings if r.sid in stored},
                            {sid: m.start for sid, m in stored.items()})  # fmt: skip
        with self._counting:  # one room's rows at a time: they count into the summary
            self._rows(room, participants, recordings, compositions, stored, by_sid, starts)

    def _fetch(self, item: Media, tmp: Path) -> None:
        path = tmp / item.key.rsplit("/", 1)[1]
        try:
            if item.size and self.storage.exists(item.key):
                self.storage.get_file(item.key, path)
                if path.stat().st_size != item.size:
                    path.unlink()
            if not path.exists():
                got = self.source.download(item.url, path)
                if item.size and got.size != item.size:
                    raise SourceError(f"downloaded {got.size} bytes, the source says {item.size}")
                self.storage.put_file(item.key, path)  # verified by the storage itself
                with self._counting:
                    self.summary.bytes += got.size
            item.start, item.duration = _probe(path)
        except SourceError as exc:
            item.error = str(exc)
        except av.FFmpegError as exc:
            item.error = f"the media does not read: {exc}"
        finally:
            path.unlink(missing_ok=True)

    def _rows(self, room, participants, recordings, compositions, stored, by_sid, starts) -> None:
        created = _utc(room.date_created) or datetime.now(UTC)
        with self.db.session() as session:
            session.add(
                Room(
                    sid=room.sid,
                    account_sid=self.account_sid,
                    unique_name=room.unique_name or room.sid,
                    status="completed",
                    type=room.type or "group",
                    max_participants=room.max_participants or 50,
                    record_participants_on_connect=bool(room.record_participants_on_connect),
                    video_codecs=list(room.video_codecs or ["VP8"]),
                    media_region=room.media_region or "us1",
                    date_created=created,
                    date_updated=_utc(room.date_updated) or created,
                    end_time=_utc(room.end_time) or created + timedelta(seconds=room.duration or 0),
                    status_callback=room.status_callback,
                    status_callback_method=room.status_callback_method or "POST",
                    **_optional(room, ROOM_SETTINGS),
                )
            )
            session.flush()
            people = {p.sid: p for p in participants}
            for psid in (
                {(r.grouping_sids or {}).get("participant_sid") for r in recordings} - set(people) - {None}
            ):
                people[psid] = None  # a participant Twilio no longer lists
            for psid, p in people.items():
                session.add(
                    Participant(
                        sid=psid,
                        account_sid=self.account_sid,
                        room_sid=room.sid,
                        identity=(p.identity if p else psid) or psid,
                        status="disconnected",
                        start_time=_utc(p.start_time) if p else None,
                        end_time=_utc(p.end_time) if p else None,
                        date_created=_utc(p.date_created) if p else created,
                        date_updated=(_utc(p.date_updated) if p else None) or created,
                    )
                )
            session.flush()
            tracks: set[str] = set()
            for r in recordings:
                psid = (r.grouping_sids or {}).get("participant_sid")
                if psid and r.source_sid and r.source_sid not in tracks:
                    tracks.add(r.source_sid)
                    session.add(
                        PublishedTrack(
                            sid=r.source_sid,
                            account_sid=self.account_sid,
                            room_sid=room.sid,
                            participant_sid=psid,
                            name=r.track_name or r.source_sid,
                            kind=r.type,
                            published=False,
                        )
                    )
                item = stored.get(r.sid)
                start = starts.get(r.sid, 0.0)
                failed = by_sid.get(r.sid)
                session.add(
                    Recording(
                        sid=r.sid,
                        account_sid=self.account_sid,
                        room_sid=room.sid,
                        participant_sid=psid,
                        source_sid=r.source_sid or "",
                        track_name=r.track_name or "",
                        type=r.type,
                        codec=(r.codec or "").upper(),
                        container_format=r.container_format or "",
                        status="completed" if item else ("failed" if failed else r.status),
                        size=(r.size or 0) if item else 0,
                        duration=int(r.duration or 0),
                        offset=int(r.offset or 0),
                        start=start,
                        end=start + (item.duration if item else float(r.duration or 0)),
                        media_key=item.key if item else None,
                        error_message=failed.error if failed and failed.error else None,
                        status_callback=r.status_callback,
                        status_callback_method=r.status_callback_method,
                        date_created=_utc(r.date_created) or created,
                    )
                )
                if item:
                    self.summary.recordings += 1
            for c in compositions:
                item = by_sid.get(c.sid)
                ok = item is not None and not item.error
                session.add(
                    Composition(
                        sid=c.sid,
                        account_sid=self.account_sid,
                        room_sid=room.sid,
                        status="completed" if ok else ("failed" if item else c.status),
                        **_spec(c),
                        bitrate=c.bitrate or 0,
                        size=(c.size or 0) if ok else 0,
                        duration=int(c.duration or 0),
                        media_key=item.key if ok and item else None,
                        progress=100 if ok else 0,
                        date_created=_utc(c.date_created) or created,
                        date_completed=_utc(c.date_completed),
                        status_callback=c.status_callback,
                        status_callback_method=c.status_callback_method or "POST",
                        error_message=item.error if item and item.error else None,
                    )
                )
                if ok:
                    self.summary.compositions += 1
            session.flush()
            data, _ = manifest_data(session, session.get(Room, room.sid))
        self._manifest(room.sid, data)

    def _manifest(self, room_sid: str, data: dict[str, Any]) -> None:
        key = f"rooms/{room_sid}/room.json"
        folder = Path(tempfile.mkdtemp(prefix="roomreel-manifest-"))
        try:
            path = folder / "room.json"
            path.write_text(json.dumps(data, indent=2))
            self.storage.put_file(key, path)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        with self.db.session() as session:
            # The source's date_updated stays: the manifest is roomreel's own bookkeeping.
            session.execute(
                update(Room)
                .where(Room.sid == room_sid)
                .values(manifest_key=key, date_updated=Room.date_updated)
            )
