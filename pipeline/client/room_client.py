"""`RoomClient`: join a room over `/v1/signal`, publish tracks, receive everyone else's."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlparse

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from websockets.asyncio.client import ClientConnection, connect

from pipeline.error_codes import SIGNALING_CONNECTION_ERROR
from pipeline.sfu import rtc_adapter
from pipeline.sfu.frame_assembler import EncodedFrame

log = logging.getLogger("roomreel.client")


def _local_hosts(url: str) -> list[str] | None:
    """Addresses to gather ICE candidates on: ROOMREEL_RTC_HOSTS, or loopback for a loopback server
    (so nothing is sent to this machine's other addresses), or aioice's choice."""
    configured = os.environ.get("ROOMREEL_RTC_HOSTS")
    if configured:
        return [h.strip() for h in configured.split(",") if h.strip()]
    host = urlparse(url).hostname or ""
    if host == "localhost" or (host.replace(".", "").isdigit() and host.startswith("127.")) or host == "::1":
        return ["::1" if host == "::1" else "127.0.0.1"]
    return None


class RoomClientError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class RemoteTrack:
    """A track someone else publishes, and what this client has received of it."""

    sid: str
    name: str
    kind: str
    participant_sid: str
    identity: str
    enabled: bool = True
    published: bool = True
    frames: int = 0
    keyframes: int = 0
    first_keyframe_first: bool | None = None  # passthrough mode: was the first frame a keyframe?
    first_frame_at: float | None = None
    last_frame_at: float | None = None
    arrivals: list[float] = field(default_factory=list)
    last_frame: Any = None
    messages: list[Any] = field(default_factory=list)

    def record(self, frame: Any, keyframe: bool | None = None) -> None:
        now = time.time()
        if self.first_frame_at is None:
            self.first_frame_at = now
            self.first_keyframe_first = keyframe
        self.last_frame_at = now
        self.frames += 1
        self.keyframes += bool(keyframe)
        self.arrivals.append(now)
        self.last_frame = frame


class _Counter:
    """Passthrough receive: counts encoded frames without decoding them (benchmarks, keyframe checks)."""

    def __init__(self, client: RoomClient, mid: str) -> None:
        self.client = client
        self.mid = mid

    def on_frame(self, frame: EncodedFrame) -> None:
        track = self.client._track_at(self.mid)
        if track is not None:
            track.record(None, frame.keyframe)
        if self.client.on_encoded_frame is not None:
            self.client.on_encoded_frame(self.mid, frame)

    def on_frame_lost(self) -> None:
        pass


class RoomClient:
    def __init__(self, url: str, token: str, room: str | None = None, decode: bool = True) -> None:
        """`decode=False` receives encoded frames only (`on_encoded_frame`): bots, benchmarks, recorders."""
        # The server's base URL; http(s) becomes ws(s) for signaling.
        self.url = url.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        self.token = token
        self.room_name = room
        self.decode = decode
        self.sid = ""
        self.identity = ""
        self.room_sid = ""
        self.codec = "VP8"
        self.participants: dict[str, dict[str, Any]] = {}
        self.remote: dict[str, RemoteTrack] = {}
        self.local: dict[str, dict[str, Any]] = {}  # name -> {sid, kind, transceiver|channel}
        self.messages: list[dict[str, Any]] = []
        self.disconnected: dict[str, Any] | None = None
        self.decode_errors = 0
        self.on_encoded_frame: Callable[[str, EncodedFrame], None] | None = None
        self.on_message: Callable[[dict[str, Any]], None] | None = None
        self.dominant_speaker: str | None = None  # the room's, as the server last said
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task | None = None
        self._publisher = RTCPeerConnection(rtc_adapter.rtc_configuration())
        # Answering with max-bundle: aiortc's balanced answerer put a second audio m-line of one
        # offer on a transport of its own, and its packets reached the first audio receiver.
        self._subscriber = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self._slots: dict[str, str | None] = {}  # mid -> track SID
        self._consumers: list[asyncio.Task] = []
        self._waiters: list[tuple[Callable[[dict[str, Any]], bool], asyncio.Future]] = []
        self._publish_lock = asyncio.Lock()
        self._changed = asyncio.Condition()
        self._subscriber.on("track", self._on_track)
        self._subscriber.on("datachannel", self._on_datachannel)

    # -- connection -------------------------------------------------------------------------
    async def connect(self, timeout: float = 15.0) -> RoomClient:
        rtc_adapter.install(_local_hosts(self.url))
        query = {"token": self.token, **({"room": self.room_name} if self.room_name else {})}
        self._ws = await connect(f"{self.url}/v1/signal?{urlencode(query)}", max_size=2**24)
        waiter = self._expect(lambda m: m.get("type") in ("joined", "error"))
        self._reader = asyncio.ensure_future(self._read())
        first = await asyncio.wait_for(waiter, timeout)
        if first["type"] == "error":
            raise RoomClientError(first["code"], first["message"])
        self.sid = first["participant"]["sid"]
        self.identity = first["participant"]["identity"]
        self.room_sid = first["room"]["sid"]
        self.codec = first["room"]["codec"]
        for p in first["participants"]:
            self._add_participant(p)
        return self

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for text in self._ws:
                message = json.loads(text)
                self.messages.append(message)
                await self._dispatch(message)
                if self.on_message is not None:
                    self.on_message(message)
                for predicate, future in list(self._waiters):
                    if not future.done() and predicate(message):
                        future.set_result(message)
                async with self._changed:
                    self._changed.notify_all()
        except Exception as exc:  # a closed socket ends the session
            log.debug("signaling closed: %s", exc)
        finally:
            for _, future in self._waiters:
                if not future.done():
                    future.set_exception(
                        RoomClientError(SIGNALING_CONNECTION_ERROR, "signaling connection closed")
                    )
            async with self._changed:
                self._changed.notify_all()

    def _expect(self, predicate: Callable[[dict[str, Any]], bool]) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        return future

    async def _send(self, message: dict[str, Any]) -> None:
        assert self._ws is not None
        await self._ws.send(json.dumps(message))

    async def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "dominant_speaker":
            self.dominant_speaker = message.get("participant_sid")
        if kind == "offer":
            for mid, info in (message.get("slots") or {}).items():
                self._bind_slot(mid, info)
            for info in (message.get("data") or {}).values():
                if info:
                    self._remember(info)
            await self._subscriber.setRemoteDescription(RTCSessionDescription(message["sdp"], "offer"))
            await self._subscriber.setLocalDescription(await self._subscriber.createAnswer())
            await self._send({"type": "answer", "sdp": self._subscriber.localDescription.sdp})
        elif kind == "slot":
            self._bind_slot(message["mid"], message.get("track"))
        elif kind == "participant_connected":
            self._add_participant(message["participant"])
        elif kind == "participant_disconnected":
            self.participants.pop(message["participant_sid"], None)
            for track in self.remote.values():
                if track.participant_sid == message["participant_sid"]:
                    track.published = False
        elif kind == "track_published":
            self._remember(message["track"])
        elif kind == "track_unpublished":
            if message["track_sid"] in self.remote:
                self.remote[message["track_sid"]].published = False
        elif kind in ("track_enabled", "track_disabled"):
            if message["track_sid"] in self.remote:
                self.remote[message["track_sid"]].enabled = kind == "track_enabled"
        elif kind == "disconnected":
            self.disconnected = message

    def _add_participant(self, info: dict[str, Any]) -> None:
        self.participants[info["sid"]] = info
        for track in info.get("tracks", []):
            self._remember({**track, "participant_sid": info["sid"], "identity": info["identity"]})

    def _remember(self, info: dict[str, Any]) -> RemoteTrack:
        track = self.remote.get(info["sid"])
        if track is None:
            track = RemoteTrack(
                sid=info["sid"],
                name=info["name"],
                kind=info["kind"],
                participant_sid=info["participant_sid"],
                identity=info["identity"],
                enabled=info.get("enabled", True),
            )
            self.remote[track.sid] = track
        return track

    def _bind_slot(self, mid: str, info: dict[str, Any] | None) -> None:
        self._slots[mid] = info["sid"] if info else None
        if info:
            self._remember(info)

    def _track_at(self, mid: str) -> RemoteTrack | None:
        sid = self._slots.get(mid)
        return self.remote.get(sid) if sid else None

    # -- receiving ---------------------------------------------------------------------------------
    def _on_track(self, track: MediaStreamTrack) -> None:
        transceiver = next(t for t in self._subscriber.getTransceivers() if t.receiver.track is track)
        mid = transceiver.mid
        if not self.decode:
            codec = self.codec if track.kind == "video" else "opus"
            rtc_adapter.forward_encoded(transceiver.receiver, track.kind, codec, _Counter(self, mid))
            return
        self._consumers.append(asyncio.ensure_future(self._consume(mid, track)))

    async def _consume(self, mid: str, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            remote = self._track_at(mid)
            if remote is not None:
                remote.record(frame)

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        @channel.on("message")
        def on_message(message: str | bytes) -> None:
            track = self.remote.get(channel.label)
            if track is not None:
                track.messages.append(message)

    # -- publishing --------------------------------------------------------------------------------
    async def publish(self, track: MediaStreamTrack, name: str, enabled: bool = True) -> str:
        async with self._publish_lock:
            transceiver = self._publisher.addTransceiver(track, direction="sendonly")
            transceiver.setCodecPreferences(rtc_adapter.codec_preferences(track.kind, self.codec))
            await self._publisher.setLocalDescription(await self._publisher.createOffer())
            info = {"mid": transceiver.mid, "name": name, "kind": track.kind, "enabled": enabled}
            published = await self._negotiate_publish(self._publisher.localDescription.sdp, [info])
            self.local[name] = {"sid": published[0]["sid"], "kind": track.kind, "transceiver": transceiver}
            return published[0]["sid"]

    async def publish_data(self, name: str) -> RTCDataChannel:
        async with self._publish_lock:
            channel = self._publisher.createDataChannel(name)
            await self._publisher.setLocalDescription(await self._publisher.createOffer())
            published = await self._negotiate_publish(
                self._publisher.localDescription.sdp, [{"name": name, "kind": "data"}]
            )
            self.local[name] = {"sid": published[0]["sid"], "kind": "data", "channel": channel}
            return channel

    async def _negotiate_publish(self, sdp: str | None, tracks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        reply = self._expect(lambda m: m.get("type") in ("publish_answer", "error"))
        await self._send({"type": "publish", "sdp": sdp, "tracks": tracks})
        message = await asyncio.wait_for(reply, 15)
        if message["type"] == "error":
            raise RoomClientError(message["code"], message["message"])
        if message.get("sdp"):
            await self._publisher.setRemoteDescription(RTCSessionDescription(message["sdp"], "answer"))
        return message["tracks"]

    async def unpublish(self, name: str) -> None:
        local = self.local.pop(name)
        if "transceiver" in local:
            local["transceiver"].sender.replaceTrack(None)
        await self._send({"type": "unpublish", "name": name})

    async def set_enabled(self, name: str, enabled: bool) -> None:
        await self._send({"type": "enable", "name": name, "enabled": enabled})

    # -- waiting -------------------------------------------------------------------------------------
    async def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        async def poll() -> None:
            while not condition():
                await asyncio.sleep(0.05)

        await asyncio.wait_for(poll(), timeout)

    def tracks_of(self, identity: str, kind: str | None = None) -> list[RemoteTrack]:
        return [
            t for t in self.remote.values() if t.identity == identity and (kind is None or t.kind == kind)
        ]

    async def ping(self) -> float:
        """Seconds for a signaling ping to come back as a pong (the server loop's responsiveness)."""
        started = time.monotonic()
        pong = self._expect(lambda message: message.get("type") == "pong")
        await self._send({"type": "ping"})
        await pong
        return time.monotonic() - started

    @property
    def dropped(self) -> bool:
        """The signaling socket closed without the server saying `disconnected` (a node died,
        the network went): the moment a client reconnects."""
        return self._reader is not None and self._reader.done() and self.disconnected is None

    async def leave(self) -> None:
        if self._ws is not None:
            try:
                await self._send({"type": "leave"})
                await self._ws.close()
            except Exception:
                pass
        for task in self._consumers:
            task.cancel()
        if self._reader is not None:
            self._reader.cancel()
        await asyncio.gather(self._publisher.close(), self._subscriber.close(), return_exceptions=True)
