"""Twilio's media signaling channels: extra data channels the SDK asks for in `connect`
(`media_signaling`) and the server opens on the client's peer connection. roomreel offers
`active_speaker`, which drives the SDK's `room.dominantSpeaker` and `dominantSpeakerChanged`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiortc import RTCPeerConnection

log = logging.getLogger("roomreel.twilio")
ACTIVE_SPEAKER_LABEL = "ms-active-speaker"


def wants_active_speaker(connect: dict[str, Any]) -> bool:
    """The SDK asks for it with `dominantSpeaker: true` in its ConnectOptions."""
    requested = connect.get("media_signaling")
    return isinstance(requested, dict) and "active_speaker" in requested


def offered(active_speaker: bool) -> dict[str, Any]:
    """The `media_signaling` of `connected`: the channels the client should wait for."""
    if not active_speaker:
        return {}
    return {"active_speaker": {"transport": {"type": "data-channel", "label": ACTIVE_SPEAKER_LABEL}}}


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
