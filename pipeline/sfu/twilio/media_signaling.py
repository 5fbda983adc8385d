"""Twilio's media signaling channels: extra data channels the SDK asks for in `connect`
(`media_signaling`) and the server opens on the client's peer connection. roomreel offers
`active_speaker`, which drives the SDK's `room.dominantSpeaker` and `dominantSpeakerChanged`,
and `network_quality`, which drives `networkQualityLevel` and `networkQualityLevelChanged`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiortc import RTCPeerConnection

log = logging.getLogger("roomreel.twilio")
ACTIVE_SPEAKER_LABEL = "ms-active-speaker"
NETWORK_QUALITY_LABEL = "ms-nq"
LABELS = {"active_speaker": ACTIVE_SPEAKER_LABEL, "network_quality": NETWORK_QUALITY_LABEL}


def requested(connect: dict[str, Any]) -> set[str]:
    """The channels of LABELS the SDK asked for (`dominantSpeaker: true`, `networkQuality`)."""
    asked = connect.get("media_signaling")
    return {name for name in LABELS if isinstance(asked, dict) and name in asked}


def offered(channels: set[str]) -> dict[str, Any]:
    """The `media_signaling` of `connected`: the channels the client should wait for."""
    return {name: {"transport": {"type": "data-channel", "label": LABELS[name]}} for name in sorted(channels)}


class ActiveSpeakerChannel:
    """Tells the client who the dominant speaker is, once it said `ready`, and at each change."""

    def __init__(self, pc: RTCPeerConnection, current: str | None) -> None:
        self.current = current
        self.ready = False
        self.channel = pc.createDataChannel(ACTIVE_SPEAKER_LABEL)
        self.channel.on("message", self._on_message)

    def _on_message(self, message: Any) -> None:
        try:
            kind = json.loads(message).get("type")
        except (ValueError, TypeError, AttributeError):
            return  # unparsable messages are ignored, as the SDK ignores ours
        if kind == "ready":
            self.ready = True
            self._send()

    def announce(self, participant_sid: str | None) -> None:
        self.current = participant_sid
        self._send()

    def _send(self) -> None:
        if self.ready and self.channel.readyState == "open":
            try:
                self.channel.send(json.dumps({"type": "active_speaker", "participant": self.current}))
            except Exception as exc:  # the channel closed under us; the client is leaving
                log.debug("active speaker not sent: %s", exc)


class NetworkQualityChannel:
    """Answers each of the client's `network_quality` inputs with its own level (0-5, measured
    by the server on its connection) and, when it asks, the other participants' levels."""

    def __init__(self, pc: RTCPeerConnection, participant: Any) -> None:
        from pipeline.sfu.network_quality import QualityMeter

        self.pc = pc
        self.participant = participant
        self.meter = QualityMeter()
        self.channel = pc.createDataChannel(NETWORK_QUALITY_LABEL)
        self.channel.on("message", self._on_message)

    def _on_message(self, message: Any) -> None:
        try:
            body = json.loads(message)
        except (ValueError, TypeError):
            return
        if isinstance(body, dict) and body.get("type") == "network_quality":
            asyncio.ensure_future(self._answer(body))

    async def _answer(self, body: dict[str, Any]) -> None:
        room = self.participant.room
        try:
            level = await self.meter.measure(self.pc)
        except Exception as exc:  # statistics of a connection closing under us
            log.debug("network quality not measured: %s", exc)
            return
        room.network_levels[self.participant.sid] = level
        remotes = []
        if body.get("remoteReportLevel"):
            remotes = [
                {"sid": sid, "level": value}
                for sid, value in room.network_levels.items()
                if sid != self.participant.sid and sid in room.participants
            ]
        if self.channel.readyState == "open":
            self.channel.send(json.dumps({"type": "network_quality", "local": level, "remotes": remotes}))
