"""What the room core needs from a signaling protocol, stated as the core sees it.

The core (rooms, participants, published tracks, subscriptions) knows no wire format. Each
protocol (`signaling.py` for roomreel's `/v1/signal`, `twilio/` for twilio-video.js) gives every
participant a `ParticipantSignals`, which tells that participant's client what happened in its
room, and a `Negotiator`, which carries offers and answers for its peer connection(s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .participant import Participant
    from .published_track import PublishedTrack
    from .subscription import Subscription


class ParticipantSignals(Protocol):
    """Events for one participant's client. The synchronous ones must not block: an adapter
    queues what it sends, in order."""

    async def joined(self, participant: Participant) -> None:
        """Admitted: the client learns its room, itself and who is there. Runs before the room
        subscribes the newcomer to anything, so a protocol may finish its first negotiation here."""

    def participant_connected(self, other: Participant) -> None: ...

    def participant_disconnected(self, other: Participant) -> None: ...

    def track_published(self, track: PublishedTrack) -> None: ...

    def track_unpublished(self, track: PublishedTrack) -> None: ...

    def track_enabled(self, track: PublishedTrack, enabled: bool) -> None: ...

    def dominant_speaker_changed(self, speaker: Participant | None) -> None:
        """The room's dominant speaker (from the packets' audio levels) is now `speaker`."""

    async def disconnected(self, code: int, reason: str) -> None:
        """The server ends this participant's session (room completed, removed, replaced)."""


class Negotiator(Protocol):
    """How a participant's peer connections reach agreement with its client."""

    def renegotiate(self) -> None:
        """Subscriptions changed shape (a sender slot or data channel was added): an offer is due."""

    def slot_rebound(self, slot: Subscription) -> None:
        """An existing sender slot now forwards another track, or none."""

    def close(self) -> None: ...
