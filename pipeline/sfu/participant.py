"""A connected participant: a publisher connection (the client offers) and a subscriber
connection (the SFU offers, renegotiating as tracks come and go)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)

from pipeline.sfu.errors import SfuError
from pipeline.sids import new_sid
from pipeline.track_rules import INCLUDE_ALL, selected

from . import rtc_adapter
from .published_track import DRAIN_GRACE, PublishedTrack
from .subscription import Subscription

if TYPE_CHECKING:
    from .room import Room

log = logging.getLogger("roomreel.sfu")

ANSWER_TIMEOUT = 15.0
Send = Callable[[dict[str, Any]], Awaitable[None]]


class SignalingError(SfuError):
    pass


class Participant:
    def __init__(self, sid: str, identity: str, room: Room, send: Send, hidden: bool = False) -> None:
        self.sid = sid
        self.identity = identity
        # A separate-process recorder: receives everything, publishes nothing, is seen by no one.
        self.hidden = hidden
        self.room = room
        self.send = send
        self.tracks: dict[str, PublishedTrack] = {}  # by name, published ones only
        self.publisher = RTCPeerConnection(rtc_adapter.rtc_configuration())
        # Max-bundle: with aiortc's balanced bundling, a second m-line of one kind in the same
        # offer got a transport of its own that never connected (a late joiner lost a microphone).
        self.subscriber = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.slots: list[Subscription] = []
        self.data_out: dict[str, RTCDataChannel] = {}  # track SID -> channel on the subscriber PC
        self.subscribe_rules: list[dict[str, Any]] = INCLUDE_ALL  # SubscribeRules; a new row's default
        self.unpublished: list[PublishedTrack] = []  # unpublished here, maybe still draining
        # MaxParticipantDuration's timer: cancelled on close, or it would hold this object for hours.
        self.expiry: asyncio.TimerHandle | None = None
        self.closed = False
        self.ended = asyncio.Event()  # set when the SFU is done with this participant
        self._pending_mids: dict[str, dict[str, Any]] = {}
        self._data_in: dict[str, RTCDataChannel] = {}  # label -> channel on the publisher PC
        self._negotiate = asyncio.Event()
        self._answer: asyncio.Future[str] | None = None
        self._negotiator = asyncio.ensure_future(self._negotiation_loop())
        self.publisher.on("datachannel", self._on_datachannel)
        self.publisher.on("connectionstatechange", self._on_connection_state)
        self.subscriber.on("connectionstatechange", self._on_connection_state)

    def describe(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "identity": self.identity,
            "tracks": [t.describe() for t in self.tracks.values()],
        }

    # -- publishing -------------------------------------------------------------------------
    async def publish(self, sdp: str | None, tracks: list[dict[str, Any]]) -> None:
        """Handle the client's `publish`: an offer (optional when reusing transceivers) and names."""
        if self.hidden:
            raise SignalingError(53400, "publish: a recorder only receives")
        wanted: dict[str, dict[str, Any]] = {}
        for item in tracks:
            if not isinstance(item, dict) or item.get("kind") not in ("audio", "video", "data"):
                raise SignalingError(53400, "publish: every track needs kind audio, video or data")
            name = item.get("name")
            if not isinstance(name, str) or not name or len(name) > 128:
                raise SignalingError(53400, "publish: every track needs a name of 1 to 128 characters")
            if name in self.tracks:
                raise SignalingError(53304, f"Track name is duplicated: {name}")
            if item["kind"] == "video" and self.room.settings.audio_only:
                raise SignalingError(53400, "publish: this room is audio-only")
            if item["kind"] != "data" and not isinstance(item.get("mid"), str):
                raise SignalingError(53400, f"publish: track {name} needs the mid of its transceiver")
            wanted[name] = item
        for item in wanted.values():
            if item["kind"] != "data":
                self._pending_mids[item["mid"]] = item
        answer = None
        if sdp is not None:
            await self.publisher.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        # Every named mid must exist before anything is answered or published: all or nothing.
        mids = {t.mid for t in self.publisher.getTransceivers()}
        for item in wanted.values():
            if item["kind"] != "data" and item["mid"] not in mids:
                raise SignalingError(53400, f"publish: no transceiver with mid {item['mid']}")
        if sdp is not None:
            for transceiver in self.publisher.getTransceivers():
                if transceiver.mid in self._pending_mids:
                    try:
                        rtc_adapter.restrict_answer_codecs(transceiver, self.room.settings.codec)
                    except ValueError as exc:
                        raise SignalingError(53404, f"publish: {exc}") from None
            await self.publisher.setLocalDescription(await self.publisher.createAnswer())
            answer = rtc_adapter.announce(self.publisher.localDescription.sdp)
        published = []
        for name, item in wanted.items():
            track = self._start_track(name, item)
            if track is not None:
                published.append({**track.describe(), "mid": item.get("mid")})
        await self.room.sfu.persisted()  # once answered, the REST API lists the tracks
        await self.send({"type": "publish_answer", "sdp": answer, "tracks": published})

    def _start_track(self, name: str, item: dict[str, Any]) -> PublishedTrack | None:
        kind = item["kind"]
        enabled = item.get("enabled", True) is not False
        if kind == "data":
            track = PublishedTrack(new_sid("MT"), name, "data", self, "data", 0, enabled)
        else:
            self._pending_mids.pop(item["mid"], None)
            transceiver = self._transceiver(item["mid"])
            if transceiver is None:
                raise SignalingError(53400, f"publish: no transceiver with mid {item['mid']}")
            codec, clock_rate = rtc_adapter.negotiated_codec(transceiver)
            track = PublishedTrack(new_sid("MT"), name, kind, self, codec, clock_rate, enabled)
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
        channel = self._data_in.get(name)
        if channel is not None:
            self._relay_data(channel, track)
        self.room.track_published(track)
        return track

    def _transceiver(self, mid: str) -> RTCRtpTransceiver | None:
        for transceiver in self.publisher.getTransceivers():
            if transceiver.mid == mid:
                return transceiver
        return None

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        self._data_in[channel.label] = channel
        track = self.tracks.get(channel.label)
        if track is not None and track.kind == "data":
            self._relay_data(channel, track)

    def _relay_data(self, channel: RTCDataChannel, track: PublishedTrack) -> None:
        @channel.on("message")
        def on_message(message: str | bytes) -> None:
            if track.published and track.enabled:
                self.room.relay_data(track, message)

    async def unpublish(self, name: str) -> None:
        track = self.tracks.pop(name, None)
        if track is None:
            raise SignalingError(53400, f"unpublish: no published track named {name}")
        self.room.track_unpublished(track)
        # Still draining into a recorder: a leave right after must wait for it too.
        self.unpublished = [t for t in (*self.unpublished, track) if t.sinks]

    async def set_enabled(self, name: str, enabled: bool) -> None:
        track = self.tracks.get(name)
        if track is None:
            raise SignalingError(53400, f"enable: no published track named {name}")
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
            if not self.subscriber.getTransceivers():
                # aiortc: with max-bundle, an offer whose first m-line is data never connects.
                self.subscriber.addTransceiver("audio", direction="inactive")
            channel = self.subscriber.createDataChannel(track.sid)
            self.data_out[track.sid] = channel
            self._negotiate.set()
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
            self._negotiate.set()
        else:
            slot.bind(track)
            asyncio.ensure_future(self._announce_slot(slot))

    def unsubscribe(self, track: PublishedTrack) -> None:
        channel = self.data_out.pop(track.sid, None)
        if channel is not None:
            channel.close()
        for slot in self.slots:
            if slot.source is track:
                slot.unbind()
                asyncio.ensure_future(self._announce_slot(slot))

    def send_data(self, track: PublishedTrack, message: str | bytes) -> None:
        channel = self.data_out.get(track.sid)
        if channel is not None and channel.readyState == "open":
            channel.send(message)

    async def _announce_slot(self, slot: Subscription) -> None:
        if slot.mid is None:
            return  # announced with the offer that creates it
        await self._send_safely({"type": "slot", "mid": slot.mid, "track": self._slot_track(slot)})

    def _slot_track(self, slot: Subscription) -> dict[str, Any] | None:
        source = slot.source
        if source is None:
            return None
        return {
            **source.describe(),
            "participant_sid": source.publisher.sid,
            "identity": source.publisher.identity,
        }

    async def _negotiation_loop(self) -> None:
        """One offer at a time; changes made while an offer is out go into the next one."""
        while not self.closed:
            await self._negotiate.wait()
            self._negotiate.clear()
            try:
                await self.subscriber.setLocalDescription(await self.subscriber.createOffer())
                for transceiver in self.subscriber.getTransceivers():
                    slot = transceiver.sender.track
                    if isinstance(slot, Subscription):
                        slot.mid = transceiver.mid
                slots = {s.mid: self._slot_track(s) for s in self.slots if s.mid}
                data = {sid: self._data_track(sid) for sid in self.data_out}
                self._answer = asyncio.get_running_loop().create_future()
                await self.send(
                    {
                        "type": "offer",
                        "sdp": rtc_adapter.announce(self.subscriber.localDescription.sdp),
                        "slots": slots,
                        "data": data,
                    }
                )
                sdp = await asyncio.wait_for(self._answer, ANSWER_TIMEOUT)
                await self.subscriber.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a client that cannot answer is disconnected
                if not self.closed:
                    log.warning("negotiation with %s failed: %s", self.identity, exc)
                    await self.room.disconnect(self, 53000, f"negotiation failed: {exc}")
                return

    def _data_track(self, track_sid: str) -> dict[str, Any] | None:
        for participant in self.room.participants.values():
            for track in participant.tracks.values():
                if track.sid == track_sid:
                    return {
                        **track.describe(),
                        "participant_sid": participant.sid,
                        "identity": participant.identity,
                    }
        return None

    def answer(self, sdp: str) -> None:
        if self._answer is None or self._answer.done():
            raise SignalingError(53400, "answer: no offer is outstanding")
        self._answer.set_result(sdp)

    # -- life cycle ----------------------------------------------------------------------------
    async def _send_safely(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        try:
            await self.send(message)
        except Exception:  # the socket went away; the session loop notices and cleans up
            pass

    async def _on_connection_state(self) -> None:
        states = (self.publisher.connectionState, self.subscriber.connectionState)
        if "failed" in states and not self.closed:
            await self.room.disconnect(self, 53405, "media connection failed")

    async def close(self, draining: Sequence[PublishedTrack] = ()) -> None:
        """Close both connections; the publishing one only once `draining` tracks' remaining
        sinks (a recorder taking the frames still in flight) let go, at most DRAIN_GRACE later."""
        if self.closed:
            return
        self.closed = True
        self.ended.set()
        if self.expiry is not None:
            self.expiry.cancel()
        self._negotiator.cancel()
        if self._answer is not None and not self._answer.done():
            self._answer.cancel()
        for slot in self.slots:
            slot.stop()
        await asyncio.gather(self.subscriber.close(), return_exceptions=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_GRACE
        while any(track.sinks for track in draining) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.gather(self.publisher.close(), return_exceptions=True)
