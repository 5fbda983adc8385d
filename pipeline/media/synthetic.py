"""Synthetic rooms for tests, benchmarks and the demo: solid-colour VP8/H.264 video with white flashes,
Opus tones with beeps at the same instants, staggered joins and leaves, disabled stretches.

Files are written the way the recording participant writes them: one Matroska file per
track, pts in milliseconds counting from the track's first packet, plus `room.json`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

SAMPLE_RATE = 48_000
BEEP_HZ = 2_000.0
BEEP_SECONDS = 0.1


def sid(prefix: str, *parts: object) -> str:
    return prefix + hashlib.md5("/".join(map(str, parts)).encode()).hexdigest()


@dataclass
class Participant:
    identity: str
    color: tuple[int, int, int]
    join: float
    leave: float
    tone_hz: float = 440.0
    video: bool = True
    audio: bool = True
    codec: str = "VP8"
    size: tuple[int, int] = (320, 240)
    # (room time, new size): a mid-track resolution change.
    resize: tuple[float, tuple[int, int]] | None = None
    # Stretches of room time with the video track disabled: no frames, and events.
    disabled: list[tuple[float, float]] = field(default_factory=list)
    # Room times of a white flash and a beep.
    flashes: list[float] = field(default_factory=list)
    # Moving texture instead of a flat colour, so encoders do real work (benchmarks).
    textured: bool = False
    # Stretches of room time in which the tone sounds (talk turns); None: the whole time.
    speech: list[tuple[float, float]] | None = None
    # A screen share: a still slide (text-like bars on `color`) that changes every this many
    # seconds; 0 is a camera.
    slides_every: float = 0.0

    @property
    def participant_sid(self) -> str:
        return sid("PA", self.identity)


def _solid(color: tuple[int, int, int], size: tuple[int, int]) -> np.ndarray:
    rgb = np.empty((size[1], size[0], 3), np.uint8)
    rgb[:] = color
    return rgb


def _slide(color: tuple[int, int, int], size: tuple[int, int], index: int) -> np.ndarray:
    rgb = _solid(color, size)
    rng = np.random.default_rng(index)
    line = max(4, size[1] // 30)
    for row in range(2 * line, size[1] - 2 * line, 2 * line):
        width = int(size[0] * rng.uniform(0.3, 0.9))
        rgb[row : row + line, size[0] // 10 : size[0] // 10 + width] = (40, 40, 40)
    return rgb


def _textures(color: tuple[int, int, int], size: tuple[int, int], count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(sum(color))
    base = rng.integers(-40, 40, (size[1] + count * 4, size[0] + count * 4, 1), dtype=np.int16)
    frames = []
    for i in range(count):
        shift = base[i * 4 : i * 4 + size[1], i * 2 : i * 2 + size[0]]
        frames.append(np.clip(np.array(color, np.int16) + shift, 0, 255).astype(np.uint8))
    return frames


def _video_frames(p: Participant, fps: int):
    """(room time, rgb array) for every frame the publisher sends."""
    step = 1.0 / fps
    # Every array yielded stays alive here, so callers may cache by identity.
    textures: dict = {}
    n = 0
    while True:
        t = p.join + n * step
        n += 1
        if t >= p.leave - 1e-9:
            return
        if any(a <= t < b for a, b in p.disabled):
            continue
        size = p.size if not p.resize or t < p.resize[0] else p.resize[1]
        if any(f <= t < f + step for f in p.flashes):
            if ("flash", size) not in textures:
                textures[("flash", size)] = [_solid((255, 255, 255), size)]
            yield t, textures[("flash", size)][0]
        elif p.slides_every:
            key = ("slide", int((t - p.join) // p.slides_every), size)
            if key not in textures:
                textures[key] = [_slide(p.color, size, key[1])]
            yield t, textures[key][0]
        elif p.textured:
            if size not in textures:
                textures[size] = _textures(p.color, size, 30)
            yield t, textures[size][n % 30]
        else:
            if size not in textures:
                textures[size] = [_solid(p.color, size)]
            yield t, textures[size][0]


def _video_encoder(codec: str, size: tuple[int, int], fps: int) -> av.VideoCodecContext:
    ctx = av.CodecContext.create(codec, "w")
    ctx.width, ctx.height = size
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = Fraction(1, 1000)
    ctx.framerate = Fraction(fps, 1)
    ctx.bit_rate = 400_000
    ctx.gop_size = fps * 2
    if codec == "libvpx":
        ctx.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    else:
        ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "profile": "baseline"}
    return ctx


def write_video(path: Path, p: Participant, fps: int) -> tuple[float, float]:
    """Write the track; returns its (first, last) frame room times.

    A resolution change restarts the encoder on a keyframe, as a WebRTC publisher does.
    """
    codec = {"VP8": "libvpx", "H264": "libx264"}[p.codec]
    frames = _video_frames(p, fps)
    first_t, first_rgb = next(frames)
    size = (first_rgb.shape[1], first_rgb.shape[0])
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, 1000)
        encoder = _video_encoder(codec, size, fps)
        if encoder.extradata:
            stream.codec_context.extradata = encoder.extradata

        def mux(packets):
            for packet in packets:
                packet.stream = stream
                out.mux(packet)

        last = first_t
        converted: dict[int, av.VideoFrame] = {}  # the generator repeats a few arrays
        for t, rgb in [(first_t, first_rgb), *frames]:
            if (rgb.shape[1], rgb.shape[0]) != size:
                mux(encoder.encode(None))
                size = (rgb.shape[1], rgb.shape[0])
                encoder = _video_encoder(codec, size, fps)
            if id(rgb) not in converted:
                converted[id(rgb)] = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
                    format="yuv420p"
                )
            frame = converted[id(rgb)]
            frame.pts = int(round((t - first_t) * 1000))
            frame.time_base = Fraction(1, 1000)
            mux(encoder.encode(frame))
            last = t
        mux(encoder.encode(None))
    return first_t, last + 1.0 / fps


def tone(p: Participant, start: float, count: int) -> np.ndarray:
    t = start + np.arange(count) / SAMPLE_RATE
    signal = 0.1 * np.sin(2 * np.pi * p.tone_hz * t)
    if p.speech is not None:
        signal *= np.any([(t >= a) & (t < b) for a, b in p.speech] or [np.zeros_like(t, bool)], axis=0)
    for f in p.flashes:
        beep = (t >= f) & (t < f + BEEP_SECONDS)
        signal[beep] += 0.5 * np.sin(2 * np.pi * BEEP_HZ * t[beep])
    return signal.astype(np.float32)


def write_audio(path: Path, p: Participant) -> tuple[float, float]:
    frame_size = 960
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream("libopus", rate=SAMPLE_RATE, layout="mono")
        stream.codec_context.time_base = Fraction(1, SAMPLE_RATE)
        samples = int(round((p.leave - p.join) * SAMPLE_RATE)) // frame_size * frame_size
        for offset in range(0, samples, frame_size):
            pcm = tone(p, p.join + offset / SAMPLE_RATE, frame_size)
            frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            frame.pts = offset
            frame.time_base = Fraction(1, SAMPLE_RATE)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return p.join, p.join + samples / SAMPLE_RATE


def make_room(
    directory: Path | str,
    participants: list[Participant],
    fps: int = 15,
    room_name: str = "synthetic",
    duration: float | None = None,
) -> dict[str, Any]:
    """Write every track and `room.json`; return the manifest."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    room_sid = sid("RM", room_name)
    recordings = []
    for p in participants:
        common = {
            "participant_sid": p.participant_sid,
            "participant_identity": p.identity,
            "offset": 1_763_892_000_000,
        }
        if p.video:
            rt = sid("RT", room_name, p.identity, "video")
            media = f"{rt}.mkv"
            start, end = write_video(directory / media, p, fps)
            events = []
            for a, b in p.disabled:
                events += [{"t": a, "type": "disabled"}, {"t": b, "type": "enabled"}]
            size = p.size
            recordings.append(
                {
                    "sid": rt,
                    "track_sid": sid("MT", room_name, p.identity, "video"),
                    "track_name": f"{p.identity}-cam",
                    "kind": "video",
                    "codec": p.codec,
                    "container_format": "mkv",
                    **common,
                    "start": round(start, 6),
                    "end": round(end, 6),
                    "media": media,
                    "width": size[0],
                    "height": size[1],
                    "events": events,
                }
            )
        if p.audio:
            rt = sid("RT", room_name, p.identity, "audio")
            media = f"{rt}.mka"
            start, end = write_audio(directory / media, p)
            recordings.append(
                {
                    "sid": rt,
                    "track_sid": sid("MT", room_name, p.identity, "audio"),
                    "track_name": f"{p.identity}-mic",
                    "kind": "audio",
                    "codec": "OPUS",
                    "container_format": "mka",
                    **common,
                    "start": round(start, 6),
                    "end": round(end, 6),
                    "media": media,
                    "events": [],
                }
            )
    end = duration if duration is not None else max(p.leave for p in participants)
    manifest = {
        "room_sid": room_sid,
        "unique_name": room_name,
        "created_at": "2026-11-23T10:00:00Z",
        "ended_at": _iso_after("2026-11-23T10:00:00", end),
        "recordings": recordings,
    }
    (directory / "room.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def _iso_after(base: str, seconds: float) -> str:
    from datetime import datetime, timedelta

    return (datetime.fromisoformat(base) + timedelta(seconds=seconds)).isoformat(
        timespec="milliseconds"
    ) + "Z"


COLORS = [(220, 40, 40), (40, 200, 60), (40, 80, 230), (230, 200, 30), (200, 60, 200), (40, 200, 200)]
