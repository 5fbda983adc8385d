"""A participant of a live room, whatever protocol its client speaks: what it publishes, what it
receives through its sender slots and data channels, and its peer connections.

roomreel's own protocol uses two connections (the client offers on `publisher`, the SFU on
`subscriber`); twilio-video.js uses one for both (`publisher is subscriber`). What the client is
told goes through `signals`, and how offers travel is `negotiator`'s business
(participant_signals.py), so nothing here knows a wire format."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCRtpTransceiver,
)

from pipeline.error_codes import (
    INVALID_PARAMETER,
    MEDIA_CONNECTION_FAILED,
    TRACK_CAPACITY_REACHED,
    TRACK_NAME_INVALID,
    TRACK_NAME_TOO_LONG,
)
from pipeline.sfu.errors import SfuError
from pipeline.sids import new_sid
from pipeline.track_rules import INCLUDE_ALL, selected

from . import rtc_adapter
from .names import NAME_MAX, has_control_characters
from .published_track import DRAIN_GRACE, PublishedTrack
from .subscription import Subscription

if TYPE_CHECKING:
    from .participant_signals import Negotiator, ParticipantSignals
    from .room import Room

log = logging.getLogger("roomreel.sfu")


class SignalingError(SfuError):
    pass


# A ceiling of roomreel's own, whatever MaxConcurrentPublishedTracks says: one client must not
# fill a room (a single participant once published 2,000 tracks).
TRACKS_PER_PARTICIPANT = 32


def check_track_name(name: str) -> None:
    """The REST API's rules for a name, with Twilio's track error codes."""
    if len(name) > NAME_MAX:
        raise SignalingError(TRACK_NAME_TOO_LONG, f"Track name is too long: at most {NAME_MAX} characters")
    if not name or has_control_characters(name):
        raise SignalingError(TRACK_NAME_INVALID, "Track name contains invalid characters")


class Participant:
    def __init__(
        self,
        sid: str,
        identity: str,
        room: Room,
        signals: ParticipantSignals,
        hidden: bool = False,
        one_connection: bool = False,
    ) -> None:
        self.sid = sid
        self.identity = identity
        # A separate-process recorder: receives everything, publishes nothing, is seen by no one.
        self.hidden = hidden
        self.room = room
        self.signals = signals
        self.negotiator: Negotiator | None = None  # set by the protocol adapter before admission
        self.tracks: dict[str, PublishedTrack] = {}  # by name, published ones only
        # Max-bundle: with aiortc's balanced bundling, a second m-line of one kind in the same
        # offer got a transport of its own that never connected (a late joiner lost a microphone).
        bundled = RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        self.publisher = RTCPeerConnection(bundled if one_connection else rtc_adapter.rtc_configuration())
        self.subscriber = self.publisher if one_connection else RTCPeerConnection(bundled)
        self.slots: list[Subscription] = []
        self.data_out: dict[str, RTCDataChannel] = {}  # track SID -> channel on the subscriber PC
        self.subscribe_rules: list[dict[str, Any]] = INCLUDE_ALL  # SubscribeRules; a new row's default
        self.unpublished: list[PublishedTrack] = []  # unpublished here, maybe still draining
        # MaxParticipantDuration's timer: cancelled on close, or it would hold this object for hours.
        self.expiry: asyncio.TimerHandle | None = None
        self.closed = False
        self.ended = asyncio.Event()  # set when the SFU is done with this participant
        self._data_in: dict[str, RTCDataChannel] = {}  # label -> channel on the publisher PC
        self._data_tracks: dict[str, PublishedTrack] = {}  # label -> the data track it carries
        self.publisher.on("datachannel", self._on_datachannel)
        self.publisher.on("connectionstatechange", self._on_connection_state)
        if not one_connection:
            self.subscriber.on("connectionstatechange", self._on_connection_state)

    def describe(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "identity": self.identity,
            "tracks": [t.describe() for t in self.tracks.values()],
        }

    # -- publishing -------------------------------------------------------------------------
    def check_capacity(self, more: int = 1) -> None:
        """Raise when `more` tracks would pass this participant's or the room's limit."""
        if len(self.tracks) + more > TRACKS_PER_PARTICIPANT:
            raise SignalingError(
                TRACK_CAPACITY_REACHED, f"A participant publishes at most {TRACKS_PER_PARTICIPANT} tracks"
            )
        limit = self.room.settings.max_published_tracks
        if limit and len(self.room.tracks()) + more > limit:
            raise SignalingError(TRACK_CAPACITY_REACHED, f"The room's {limit} published tracks are reached")

    def start_track(
        self,
        name: str,
        kind: str,
        enabled: bool = True,
        transceiver: RTCRtpTransceiver | None = None,
        data_label: str | None = None,
        sid: str | None = None,
    ) -> PublishedTrack:
        """Publish a track the client sends: audio or video on `transceiver` (negotiated already),
        or data on the channel labelled `data_label` (now or when it opens)."""
        sid = sid or new_sid("MT")
        if kind == "data":
            track = PublishedTrack(sid, name, "data", self, "data", 0, enabled)
            label = data_label or name
            self._data_tracks[label] = track
            channel = self._data_in.get(label)
            if channel is not None:
                self._relay_data(channel, track)
        else:
            assert transceiver is not None
            codec, clock_rate = rtc_adapter.negotiated_codec(transceiver)
            track = PublishedTrack(sid, name, kind, self, codec, clock_rate, enabled)
            track.receiver = transceiver.receiver
            if kind == "video":
                track.max_bitrate = self.room.sfu.settings.max_video_bitrate or None
            rtc_adapter.forward_encoded(
                transceiver.receiver,
                kind,
                codec,
                track,
                bitrate_cap=track.bitrate_cap if kind == "video" else None,
            )
        self.tracks[name] = track
        self.room.track_published(track)
        return track

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        self._data_in[channel.label] = channel
        track = self._data_tracks.get(channel.label)
        if track is not None and track.published:
            self._relay_data(channel, track)

    def has_data_channel(self, label: str) -> bool:
        return label in self._data_in

    def _relay_data(self, channel: RTCDataChannel, track: PublishedTrack) -> None:
        # Subscribers get the reliability the publisher chose: an "unreliable" track (unordered,
        # no retransmits) must not turn reliable, and late, on its way through the SFU.
        track.data_options = {
            "ordered": channel.ordered,
            "maxRetransmits": channel.maxRetransmits,
            "maxPacketLifeTime": channel.maxPacketLifeTime,
        }
        waiting, track.waiting_subscribers = track.waiting_subscribers, set()
        for subscriber in waiting:
            if not subscriber.closed and track.published:
                subscriber.subscribe(track)

        @channel.on("message")
        def on_message(message: str | bytes) -> None:
            if track.published and track.enabled:
                self.room.relay_data(track, message)

    async def unpublish(self, name: str) -> None:
        track = self.tracks.pop(name, None)
        if track is None:
            raise SignalingError(INVALID_PARAMETER, f"unpublish: no published track named {name}")
        if track.kind == "data":
            self._data_tracks = {k: t for k, t in self._data_tracks.items() if t is not track}
        self.room.track_unpublished(track)
        # Still draining into a recorder: a leave right after must wait for it too.
        self.unpublished = [t for t in (*self.unpublished, track) if t.sinks]

    async def set_enabled(self, name: str, enabled: bool) -> None:
        track = self.tracks.get(name)
        if track is None:
            raise SignalingError(INVALID_PARAMETER, f"enable: no published track named {name}")
        if track.enabled != enabled:
            self.room.track_enabled(track, enabled)

    # -- subscribing ---------------------------------------------------------------------------
    def wants(self, track: PublishedTrack) -> bool:
        """Whether this participant's SubscribeRules select `track` (another's)."""
        return selected(self.subscribe_rules, track.facts())

    def subscribed(self) -> set[str]:
        """SIDs of the tracks this participant receives (safe to call from another thread)."""
        slots = [source.sid for s in list(self.slots) if (source := s.source) is not None]
        return set(slots) | set(list(self.data_out))

    def follow_rules(self, rules: list[dict[str, Any]], tracks: list[PublishedTrack]) -> None:
        """New SubscribeRules: subscribe to what they now select, drop what they no longer do."""
        self.subscribe_rules = rules
        current = self.subscribed()
        for track in tracks:
            if track.publisher is self:
                continue
            wanted = self.wants(track)
            if wanted and track.sid not in current:
                self.subscribe(track)
            elif not wanted and track.sid in current:
                self.unsubscribe(track)

    def subscribe(self, track: PublishedTrack) -> None:
        if track.kind == "data":
            if track.data_options is None:  # its channel's options are not known yet
                track.waiting_subscribers.add(self)
                return
            if not self.subscriber.getTransceivers():
                # aiortc: with max-bundle, an offer whose first m-line is data never connects.
                self.subscriber.addTransceiver("audio", direction="inactive")
            channel = self.subscriber.createDataChannel(track.sid, **track.data_options)
            self.data_out[track.sid] = channel
            self._renegotiate()
            return
        slot = next((s for s in self.slots if s.source is None and s.kind == track.kind and s.mid), None)
        if slot is None:
            slot = Subscription(track.kind, track.clock_rate)
            transceiver = self.subscriber.addTransceiver(slot, direction="sendonly")
            transceiver.setCodecPreferences(
                rtc_adapter.codec_preferences(track.kind, self.room.settings.codec)
            )
            self.slots.append(slot)
            slot.bind(track)
            self._renegotiate()
        else:
            slot.bind(track)
            self._slot_rebound(slot)

    def unsubscribe(self, track: PublishedTrack) -> None:
        track.waiting_subscribers.discard(self)
        channel = self.data_out.pop(track.sid, None)
        if channel is not None:
            channel.close()
        for slot in self.slots:
            if slot.source is track:
                slot.unbind()
                self._slot_rebound(slot)

    def send_data(self, track: PublishedTrack, message: str | bytes) -> None:
        channel = self.data_out.get(track.sid)
        if channel is not None and channel.readyState == "open":
            channel.send(message)

    def _renegotiate(self) -> None:
        if self.negotiator is not None:
            self.negotiator.renegotiate()

    def _slot_rebound(self, slot: Subscription) -> None:
        if self.negotiator is not None:
            self.negotiator.slot_rebound(slot)

    def slot_track(self, slot: Subscription) -> dict[str, Any] | None:
        """What `slot` forwards now, as clients are told about a track."""
        source = slot.source
        return None if source is None else self.room.describe_track(source)

    def data_track(self, track_sid: str) -> dict[str, Any] | None:
        track = self.room.track(track_sid)
        return None if track is None else self.room.describe_track(track)

    # -- life cycle ----------------------------------------------------------------------------
    async def _on_connection_state(self) -> None:
        states = (self.publisher.connectionState, self.subscriber.connectionState)
        if "failed" in states and not self.closed:
            await self.room.disconnect(self, MEDIA_CONNECTION_FAILED, "media connection failed")

    async def close(self, draining: Sequence[PublishedTrack] = ()) -> None:
        """Close both connections; the publishing one only once `draining` tracks' remaining
        sinks (a recorder taking the frames still in flight) let go, at most DRAIN_GRACE later."""
        if self.closed:
            return
        self.closed = True
        self.ended.set()
        if self.expiry is not None:
            self.expiry.cancel()
        if self.negotiator is not None:
            self.negotiator.close()
        for slot in self.slots:
            slot.stop()
        await asyncio.gather(self.subscriber.close(), return_exceptions=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_GRACE
        while any(track.sinks for track in draining) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.gather(self.publisher.close(), return_exceptions=True)
