"""A live group room: who is in it, what they publish, and who receives what."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from pipeline.error_codes import ROOM_COMPLETED
from pipeline.metrics import SPEAKER_CHANGES

from .dominant_speaker import DominantSpeaker
from .participant import Participant
from .published_track import PublishedTrack
from .room_state import RoomSettings

if TYPE_CHECKING:
    from .participant_signals import ParticipantSignals
    from .sfu import Sfu

log = logging.getLogger("roomreel.sfu")


class RoomObserver(Protocol):
    """What the recording participant (or anything else in-process) hears about a room."""

    def track_published(self, track: PublishedTrack) -> None: ...

    def track_unpublished(self, track: PublishedTrack, drain: bool) -> None:
        """`drain`: the publisher ended it (unpublish, leave), so its last packets may still be in
        flight; otherwise the server cut it (room completed, participant removed or replaced)."""

    def track_enabled(self, track: PublishedTrack, enabled: bool) -> None: ...

    def rules_changed(self, rules: list[dict[str, Any]]) -> None: ...

    async def room_closed(self) -> None: ...


class Room:
    def __init__(self, settings: RoomSettings, sfu: Sfu) -> None:
        self.settings = settings
        self.sfu = sfu
        self.participants: dict[str, Participant] = {}
        self.observers: list[RoomObserver] = []
        self.closed = False
        self.created = settings.created.timestamp()
        # When this process opened the room: a room taken over from a dead cluster node has
        # recordings of that node's span, which this node cannot finish and does not wait for.
        self.opened = datetime.now(UTC)
        self._timer: asyncio.TimerHandle | None = None
        self._ever_joined = False
        self.admission = asyncio.Lock()  # held by Sfu.join from its checks to admit()
        # Fed by the audio tracks' packet levels (PublishedTrack.on_frame).
        self.speakers = DominantSpeaker(self._speaker_changed)
        # Participant SID -> the last network quality level (0-5) measured on its connection.
        self.network_levels: dict[str, int] = {}
        self._arm_timeout(settings.unused_room_timeout)

    @property
    def sid(self) -> str:
        return self.settings.sid

    def room_time(self, wall: float | None = None) -> float:
        """Seconds since the room was created: the timeline recordings and compositions share."""
        return (wall if wall is not None else time.time()) - self.created

    def visible(self) -> list[Participant]:
        return [p for p in self.participants.values() if not p.hidden]

    def tracks(self) -> list[PublishedTrack]:
        return [t for p in self.participants.values() for t in p.tracks.values()]

    def track(self, sid: str) -> PublishedTrack | None:
        return next((t for t in self.tracks() if t.sid == sid), None)

    @staticmethod
    def describe_track(track: PublishedTrack) -> dict[str, Any]:
        return {
            **track.describe(),
            "participant_sid": track.publisher.sid,
            "identity": track.publisher.identity,
        }

    # -- membership -------------------------------------------------------------------------
    def admit(self, participant: Participant) -> None:
        self.participants[participant.sid] = participant
        if not participant.hidden:  # a hidden recorder neither uses a room nor keeps it alive
            self._ever_joined = True
            self._cancel_timeout()
            self._tell(lambda s: s.participant_connected(participant), participant)
        for track in self.tracks():
            if track.publisher is not participant and participant.wants(track):
                participant.subscribe(track)

    def by_identity(self, identity: str) -> Participant | None:
        return next((p for p in self.participants.values() if p.identity == identity), None)

    async def disconnect(self, participant: Participant, code: int = 0, reason: str = "") -> None:
        """Remove a participant (left, kicked, replaced, failed); it is told why first."""
        if self.participants.pop(participant.sid, None) is None:
            return
        if code and not participant.closed:
            try:
                await participant.signals.disconnected(code, reason)
            except Exception:  # the client is gone already; it is removed all the same
                log.debug("could not tell %s why it was disconnected", participant.identity)
        tracks = list(participant.tracks.values())
        drain = not code  # a participant that left, not one the server disconnected
        for track in tracks:
            participant.tracks.pop(track.name, None)
            self.track_unpublished(track, drain)
        draining = [t for t in (*tracks, *participant.unpublished) if t.sinks] if drain else []
        await participant.close(draining=draining)
        self.speakers.forget(participant.sid)
        self.network_levels.pop(participant.sid, None)
        if not participant.hidden:
            self._tell(lambda s: s.participant_disconnected(participant))
        await self.sfu.participant_left(self, participant)
        if not participant.hidden and not self.visible() and not self.closed:
            self._arm_timeout(self.settings.empty_room_timeout)

    # -- tracks -------------------------------------------------------------------------------
    def track_published(self, track: PublishedTrack) -> None:
        for other in self.participants.values():
            if other is not track.publisher and other.wants(track):
                other.subscribe(track)
        self._tell(lambda s: s.track_published(track), track.publisher)
        self.sfu.persist_track_added(track)
        self._notify(lambda o: o.track_published(track))

    def track_unpublished(self, track: PublishedTrack, drain: bool = True) -> None:
        for other in self.participants.values():
            other.unsubscribe(track)
        track.close()
        self._tell(lambda s: s.track_unpublished(track), track.publisher)
        self.sfu.persist_track_removed(track)
        self._notify(lambda o: o.track_unpublished(track, drain))

    def track_enabled(self, track: PublishedTrack, enabled: bool) -> None:
        track.set_enabled(enabled)
        self._tell(lambda s: s.track_enabled(track, enabled), track.publisher)
        self.sfu.persist_track_enabled(track, enabled)
        self._notify(lambda o: o.track_enabled(track, enabled))

    def rules_changed(self, rules: list[dict[str, Any]]) -> None:
        self._notify(lambda o: o.rules_changed(rules))

    def relay_data(self, track: PublishedTrack, message: str | bytes) -> None:
        for other in self.participants.values():
            if other is not track.publisher:
                other.send_data(track, message)

    def _tell(self, event: Callable[[ParticipantSignals], None], exclude: Participant | None = None) -> None:
        for participant in list(self.participants.values()):
            if participant is not exclude and not participant.closed:
                try:
                    event(participant.signals)
                except Exception:  # one client's adapter must not break the room
                    log.exception("signalling %s failed", participant.identity)

    def _speaker_changed(self, participant_sid: str | None) -> None:
        speaker = self.participants.get(participant_sid) if participant_sid else None
        SPEAKER_CHANGES.inc()
        self._tell(lambda s: s.dominant_speaker_changed(speaker))

    def _notify(self, call: Callable[[RoomObserver], None]) -> None:
        for observer in list(self.observers):
            try:
                call(observer)
            except Exception:  # an observer's failure must not break the room
                log.exception("room observer failed")

    # -- end ----------------------------------------------------------------------------------
    def _arm_timeout(self, minutes: int) -> None:
        self._cancel_timeout()
        seconds = minutes * self.sfu.settings.timeout_unit
        self._timer = asyncio.get_running_loop().call_later(seconds, self._timed_out)

    def _cancel_timeout(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        if not self.visible() and not self.closed:
            asyncio.ensure_future(self.sfu.end_room(self.sid))

    async def close(self, code: int = ROOM_COMPLETED, reason: str = "Room completed") -> None:
        """Disconnect everyone; the room's state in the database is the caller's business."""
        if self.closed:
            return
        self.closed = True
        self._cancel_timeout()
        for participant in list(self.participants.values()):
            await self.disconnect(participant, code, reason)
        for observer in list(self.observers):
            try:
                await observer.room_closed()
            except Exception:
                log.exception("room observer failed on close")
