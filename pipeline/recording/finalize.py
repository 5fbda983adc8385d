"""A packet journal becomes one Matroska file (.mkv for VP8/H.264, .mka for Opus), stream-copied."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from .journal import JournalError, read_frames, read_header

CONTAINERS = {"audio": "mka", "video": "mkv"}


@dataclass(frozen=True)
class RecordedMedia:
    path: Path
    kind: str
    codec: str  # Twilio's spelling: VP8, H264, OPUS
    container: str
    frames: int
    duration: float  # seconds of media
    first_arrival: float  # wall time of the first frame, jitter removed
    width: int | None = None
    height: int | None = None


def _dimensions(codec: str, keyframe: bytes) -> tuple[int, int]:
    """Decode one keyframe: the only decoding recording ever does, for the Matroska header."""
    decoder = av.CodecContext.create(codec, "r")
    for frame in decoder.decode(av.Packet(keyframe)):
        return frame.width, frame.height
    for frame in decoder.decode(None):
        return frame.width, frame.height
    raise JournalError("the first keyframe does not decode")


def finalize(journal: Path, out: Path) -> RecordedMedia:
    """Write `out` from `journal`; video starts at its first keyframe. Raises JournalError."""
    header = read_header(journal)
    kind, codec = header["kind"], str(header["codec"]).lower()
    clock = int(header["clock_rate"])
    time_base = Fraction(1, clock)
    container = None
    stream = None
    first_pts = last_pts = None
    frames = 0
    offsets: list[float] = []
    deltas: list[int] = []
    size: tuple[int, int] | None = None
    tmp = out.with_name(out.name + ".part")
    try:
        for frame in read_frames(journal):
            if container is None:
                if kind == "video" and not frame.keyframe:
                    continue
                container = av.open(str(tmp), "w", format="matroska")
                if kind == "video":
                    size = _dimensions(codec, frame.data)
                    stream = container.add_mux_stream(codec, width=size[0], height=size[1])
                else:
                    # A libopus context writes a valid OpusHead (a bare mux stream writes none).
                    stream = container.add_stream("libopus", rate=48_000, layout="stereo")
                stream.time_base = Fraction(1, 1000)
                first_pts = frame.pts
            pts = frame.pts - first_pts
            if last_pts is not None and pts <= last_pts:
                pts = last_pts + 1  # Matroska needs increasing timestamps; keep every frame
            if last_pts is not None:
                deltas.append(pts - last_pts)
            packet = av.Packet(frame.data)
            packet.pts = packet.dts = pts
            packet.time_base = time_base
            packet.stream = stream
            if frame.keyframe:
                packet.is_keyframe = True
            container.mux(packet)
            offsets.append(frame.arrival - pts / clock)
            last_pts = pts
            frames += 1
    finally:
        if container is not None:
            container.close()
    if frames == 0:
        tmp.unlink(missing_ok=True)
        raise JournalError("no media was recorded" if kind == "audio" else "no keyframe was recorded")
    tmp.replace(out)
    step = statistics.median(deltas) if deltas else (960 if kind == "audio" else clock // 30)
    return RecordedMedia(
        path=out,
        kind=kind,
        codec={"vp8": "VP8", "h264": "H264", "opus": "OPUS"}.get(codec, codec.upper()),
        container=CONTAINERS[kind],
        frames=frames,
        duration=(last_pts + step) / clock,
        # Frames arrive late by network and queueing delay, never early: the least-delayed one
        # places the track's first frame best.
        first_arrival=min(offsets),
        width=size[0] if size else None,
        height=size[1] if size else None,
    )
