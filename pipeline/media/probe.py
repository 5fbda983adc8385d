"""Check a track recording before composing it: readable, the expected kind, decodable, whole."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

DECODABLE = {"video": {"vp8", "vp9", "h264", "av1"}, "audio": {"opus", "pcm_mulaw", "pcm_alaw", "aac"}}
# A file may end this much before the manifest says without being called truncated:
# the last frame's duration and the recorder's crash-loss allowance.
TRUNCATION_SLACK = 1.5


class MediaError(Exception):
    """A recording that cannot be composed; the message is one readable line."""


@dataclass(frozen=True)
class ProbeResult:
    codec: str
    packets: int
    first: float
    last: float

    @property
    def duration(self) -> float:
        return self.last - self.first


def probe_track(path: Path, kind: str, expected_duration: float | None = None) -> ProbeResult:
    """Demux every packet and decode the first few; raise MediaError with the reason."""
    if not path.is_file():
        raise MediaError(f"media file {path.name} is missing")
    if path.stat().st_size == 0:
        raise MediaError(f"media file {path.name} is empty")
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise MediaError(f"media file {path.name} is not a readable container ({_why(exc)})") from None
    with container:
        streams = [s for s in container.streams if s.type == kind]
        if not streams:
            raise MediaError(f"media file {path.name} has no {kind} stream")
        stream = streams[0]
        codec = stream.codec_context.name
        if codec not in DECODABLE[kind]:
            raise MediaError(f"media file {path.name} has unsupported {kind} codec {codec!r}")
        first = last = None
        packets = decoded = 0
        try:
            for packet in container.demux(stream):
                if packet.pts is None or packet.size == 0:
                    continue
                t = float(packet.pts * packet.time_base)
                first = t if first is None else min(first, t)
                last = t if last is None else max(last, t)
                packets += 1
                if decoded < 3:
                    decoded += len(stream.codec_context.decode(packet)) or 0
        except av.FFmpegError as exc:
            raise MediaError(f"media file {path.name} is corrupt ({_why(exc)})") from None
        if first is None or last is None:
            raise MediaError(f"media file {path.name} holds no {kind} packets")
        if decoded == 0 and packets >= 3:
            raise MediaError(f"media file {path.name}: no {codec} frame could be decoded")
    result = ProbeResult(codec, packets, first, last)
    if expected_duration is not None and result.duration + TRUNCATION_SLACK < expected_duration:
        raise MediaError(
            f"media file {path.name} is truncated: it holds {result.duration:.1f} s "
            f"of the {expected_duration:.1f} s recorded"
        )
    return result


def _why(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc).splitlines()[0]
