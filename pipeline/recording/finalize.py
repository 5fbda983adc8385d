"""A packet journal becomes one Matroska file (.mkv for VP8/H.264, .mka for Opus), stream-copied."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from pipeline.media.levels import LevelAccumulator, LevelTimeline

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
    # Audio whose packets carried levels: one per 50 ms from the file's first frame.
    levels: LevelTimeline | None = None


def _dimensions(codec: str, keyframe: bytes) -> tuple[int, int]:
    """Decode one keyframe: the only decoding recording ever does, for the Matroska header."""
    decoder = av.CodecContext.create(codec, "r")
    for frame in decoder.decode(av.Packet(keyframe)):
        return frame.width, frame.height
    for frame in decoder.decode(None):
        return frame.width, frame.height
    raise JournalError("the first keyframe does not decode")


def _timed_frames(journal: Path, kind: str) -> Iterator[tuple[Any, int]]:
    """The frames a file keeps, with their timestamps from the first one: video from its first
    keyframe, and strictly increasing (Matroska needs it; every frame is kept)."""
    first_pts = last_pts = None
    for frame in read_frames(journal):
        if first_pts is None:
            if kind == "video" and not frame.keyframe:
                continue
            first_pts = frame.pts
        pts = frame.pts - first_pts
        if last_pts is not None and pts <= last_pts:
            pts = last_pts + 1
        last_pts = pts
        yield frame, pts


def finalize(journal: Path, out: Path, room_created: float | None = None) -> RecordedMedia:
    """Write `out` from `journal`; video starts at its first keyframe. Raises JournalError.

    With `room_created`, the file's timestamps start at the track's place in the room, as
    Twilio's do: a tool that aligns Twilio recordings by their start time (ffprobe's
    `start_time`, with the `offset` of the REST resource) aligns roomreel's the same way."""
    header = read_header(journal)
    kind, codec = header["kind"], str(header["codec"]).lower()
    clock = int(header["clock_rate"])
    time_base = Fraction(1, clock)
    # Frames arrive late by network and queueing delay, never early: the least-delayed one
    # places the track's first frame best.
    offsets = [frame.arrival - pts / clock for frame, pts in _timed_frames(journal, kind)]
    if not offsets:
        raise JournalError("no media was recorded" if kind == "audio" else "no keyframe was recorded")
    first_arrival = min(offsets)
    origin = max(0, round((first_arrival - room_created) * clock)) if room_created is not None else 0
    container = None
    stream = None
    last_pts = None
    frames = 0
    deltas: list[int] = []
    size: tuple[int, int] | None = None
    levels = LevelAccumulator()
    leveled = False
    tmp = out.with_name(out.name + ".part")
    try:
        for frame, pts in _timed_frames(journal, kind):
            if container is None:
                container = av.open(str(tmp), "w", format="matroska")
                if kind == "video":
                    size = _dimensions(codec, frame.data)
                    stream = container.add_mux_stream(codec, width=size[0], height=size[1])
                else:
                    # A libopus context writes a valid OpusHead (a bare mux stream writes none).
                    stream = container.add_stream("libopus", rate=48_000, layout="stereo")
                stream.time_base = Fraction(1, 1000)
            if last_pts is not None:
                deltas.append(pts - last_pts)
            packet = av.Packet(frame.data)
            packet.pts = packet.dts = origin + pts
            packet.time_base = time_base
            packet.stream = stream
            if frame.keyframe:
                packet.is_keyframe = True
            container.mux(packet)
            if frame.level is not None:
                levels.add(pts / clock, frame.level)
                leveled = True
            last_pts = pts
            frames += 1
    finally:
        if container is not None:
            container.close()
    if frames == 0 or last_pts is None:
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
        first_arrival=first_arrival,
        width=size[0] if size else None,
        height=size[1] if size else None,
        levels=levels.timeline((last_pts + step) / clock) if leveled else None,
    )
