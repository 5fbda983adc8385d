"""Split rendering: one long composition as time windows rendered anywhere, joined by stream copy.

Video is cut into windows on the output frame grid (preferring segment boundaries), each
rendered by its own encoder, so each starts on a keyframe with closed GOPs. Audio is rendered
once, whole: per-window AAC would add encoder priming at every join and drift. The joiner
copies packets, offsetting each window's timestamps by its start; nothing is re-encoded.
"""

from __future__ import annotations

import heapq
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av

from layouts import Plan

from .output import FORMATS
from .renderer import DEFAULT_FPS, render

DEFAULT_WINDOW_SECONDS = 300.0
# A segment boundary this close to an ideal cut is used instead: cuts then fall where the layout changes.
SNAP_FRACTION = 0.1


@dataclass(frozen=True)
class Window:
    index: int
    start: float
    end: float


def plan_windows(plan: Plan, fps: int = DEFAULT_FPS, seconds: float = DEFAULT_WINDOW_SECONDS) -> list[Window]:
    frames = round(plan.duration * fps)
    count = max(1, round(plan.duration / seconds))
    boundaries = sorted({round(seg.start * fps) for seg in plan.segments} - {0})
    cuts = [0]
    for i in range(1, count):
        ideal = round(frames * i / count)
        near = [b for b in boundaries if abs(b - ideal) <= SNAP_FRACTION * frames / count and b > cuts[-1]]
        cuts.append(min(near, key=lambda b: abs(b - ideal)) if near else ideal)
    cuts.append(frames)
    return [Window(i, a / fps, b / fps) for i, (a, b) in enumerate(zip(cuts, cuts[1:])) if b > a]


def render_window(manifest, plan: Plan, window: Window, out: Path, fmt: str, fps: int = DEFAULT_FPS) -> Path:
    render(manifest, plan.window(window.start, window.end).video_only(), out, fmt, fps)
    return out


def render_audio(manifest, plan: Plan, out: Path, fmt: str) -> Path:
    render(manifest, plan.audio_only(), out, fmt)
    return out


def _packets(path: Path, kind: str, offset: float):
    """(time, stream kind, packet) of one part, shifted by `offset` seconds."""
    container = av.open(str(path))
    try:
        streams = [s for s in container.streams if s.type == kind]
        if not streams:
            return
        stream = streams[0]
        shift = int(round(offset / stream.time_base))
        for packet in container.demux(stream):
            if packet.dts is None and packet.pts is None:
                continue
            if packet.pts is not None:
                packet.pts += shift
            if packet.dts is not None:
                packet.dts += shift
            yield (
                float((packet.dts if packet.dts is not None else packet.pts) * stream.time_base),
                kind,
                packet,
            )
    finally:
        container.close()


def join(video_parts: list[tuple[Path, float]], audio: Path | None, out: Path, fmt: str) -> Path:
    """Stream-copy the windows (with their start offsets) and the audio into one file."""
    settings = FORMATS[fmt]
    with av.open(str(out), "w", format=settings.container, options=settings.container_options) as output:
        targets = {}
        if video_parts:
            with av.open(str(video_parts[0][0])) as first:
                targets["video"] = output.add_stream_from_template(first.streams.video[0])
        if audio is not None:
            with av.open(str(audio)) as source:
                targets["audio"] = output.add_stream_from_template(source.streams.audio[0])

        def video():
            for path, offset in video_parts:
                yield from _packets(path, "video", offset)

        sources = [video()] if video_parts else []
        if audio is not None:
            sources.append(_packets(audio, "audio", 0.0))
        for _, kind, packet in heapq.merge(*sources, key=lambda item: item[0]):
            packet.stream = targets[kind]
            output.mux(packet)
    return out


def render_split(
    manifest,
    plan: Plan,
    out: Path | str,
    fmt: str = "mp4",
    fps: int = DEFAULT_FPS,
    window_seconds: float = DEFAULT_WINDOW_SECONDS,
    processes: int = 2,
    work: Path | None = None,
) -> Path:
    """Render the windows and the audio on a local process pool, then join. Workers on other
    hosts run `render_window` / `render_audio` the same way and hand their parts to `join`."""
    out = Path(out)
    work = work or out.parent / f".{out.name}.parts"
    work.mkdir(parents=True, exist_ok=True)
    windows = plan_windows(plan, fps, window_seconds)
    with ProcessPoolExecutor(max_workers=max(1, processes)) as pool:
        audio = pool.submit(render_audio, manifest, plan, work / f"audio.{fmt}", fmt) if plan.audio else None
        videos = (
            [
                pool.submit(render_window, manifest, plan, w, work / f"video-{w.index:04d}.{fmt}", fmt, fps)
                for w in windows
            ]
            if plan.has_video
            else []
        )
        parts = [(f.result(), w.start) for f, w in zip(videos, windows)]
        audio_path = audio.result() if audio else None
    try:
        return join(parts, audio_path, out, fmt)
    finally:
        for path in work.iterdir():
            path.unlink()
        work.rmdir()
