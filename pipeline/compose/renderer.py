"""Render a plan into one file in a single streaming pass with bounded memory.

The output timeline is walked in ticks (one video frame, or 20 ms of audio when there
is no video). Each tick maps to room time through its segment; the main loop takes the
latest frame of each visible tile and feeds the video encoder, while the audio thread
(audio_mixdown.py) mixes and encodes the same ticks' samples; the main loop muxes both.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from layouts import Plan
from pipeline.media.manifest import RoomManifest
from pipeline.media.probe import MediaError, probe_track

from .audio_mixdown import AudioMixdown
from .audio_source import AudioSource
from .canvas import Canvas
from .errors import ComposeError
from .gil_turns import short_gil_turns
from .output import FORMATS, OutputFile
from .timeline import IntervalSet, output_ticks, subtract, tick_count, tile_sizes, visible_spans
from .video_source import VideoSource

DEFAULT_FPS = 30
AUDIO_ONLY_TICK = 0.02
# Output seconds muxed between progress reports when there is no video.
AUDIO_ONLY_STEP = 1.0
Progress = Callable[[float, float], None]


@dataclass
class RenderReport:
    path: Path
    duration: float
    frames: int
    elapsed: float
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def realtime_factor(self) -> float:
        return self.duration / self.elapsed if self.elapsed else math.inf


def _check_sources(manifest: RoomManifest, plan: Plan, skip_broken: bool) -> dict[str, str]:
    """Probe every recording the plan uses; return the broken ones, or raise on the first."""
    used = {t.source for s in plan.segments for t in s.tiles} | {a.source for a in plan.audio}
    broken: dict[str, str] = {}
    for sid in sorted(used):
        rec = manifest.recordings.get(sid)
        if rec is None:
            reason = "is in the plan but not in the room manifest"
        else:
            try:
                probe_track(manifest.media_path(sid), rec.kind, rec.end - rec.start)
                continue
            except MediaError as exc:
                reason = str(exc)
        if not skip_broken:
            raise ComposeError(reason, sid)
        broken[sid] = reason
    return broken


def _without(plan: Plan, broken: set[str]) -> Plan:
    """A copy of `plan` with no tile or audio span of the `broken` sources; `plan` is left as it is
    (its segments may be shared with other plans, as `Plan.video_only` shares them)."""
    if not broken:
        return plan
    return replace(
        plan,
        segments=[
            replace(seg, tiles=[t for t in seg.tiles if t.source not in broken]) for seg in plan.segments
        ],
        audio=[a for a in plan.audio if a.source not in broken],
    )


def render(
    manifest: RoomManifest,
    plan: Plan,
    out: Path | str,
    fmt: str = "mp4",
    fps: int = DEFAULT_FPS,
    progress: Progress | None = None,
    skip_broken: bool = False,
) -> RenderReport:
    if fmt not in FORMATS:
        raise ComposeError(f"unknown format {fmt!r}; use mp4 or webm")
    out = Path(out)
    started = time.monotonic()
    broken = _check_sources(manifest, plan, skip_broken)
    plan = _without(plan, set(broken))
    has_video = plan.has_video
    if not has_video and not plan.audio:
        raise ComposeError("nothing left to compose: every selected recording is broken")

    spans = visible_spans(plan)
    sizes = tile_sizes(plan)
    disabled = {sid: IntervalSet(manifest.recordings[sid].disabled_spans()) for sid in spans}
    videos = {
        sid: VideoSource(
            sid,
            manifest.media_path(sid),
            manifest.recordings[sid].start,
            sizes[sid],
            IntervalSet(subtract(spans[sid], disabled[sid].intervals)),
        )
        for sid in spans
    }
    audios = {
        a.source: AudioSource(
            a.source,
            manifest.media_path(a.source),
            manifest.recordings[a.source].start,
            _room_time(plan, a.start),
        )
        for a in plan.audio
    }
    tick = 1.0 / fps if has_video else AUDIO_ONLY_TICK
    partial = out.with_name(out.name + ".part")
    output = None
    mixdown = None
    with short_gil_turns():
        try:
            for source in videos.values():
                source.begin()
            output = OutputFile(partial, fmt, plan.width, plan.height, fps, has_video, bool(audios))
            if audios:
                mixdown = AudioMixdown(plan, tick, audios, output.audio_encoder(), skip_broken)
                mixdown.begin()
            if has_video:
                frames = _walk(plan, tick, videos, disabled, output, mixdown, progress, skip_broken)
            else:
                frames = 0
                _mux_audio_only(plan, output, mixdown, progress)
            if mixdown is not None:
                output.mux(mixdown.take_until(None))
            output.close()
            output = None
            for source in [*videos.values(), *audios.values()]:
                if source.error:
                    broken[source.sid] = source.error
            os.replace(partial, out)
        finally:
            if mixdown is not None:
                mixdown.close()
            if output is not None:
                try:
                    output.close()
                except Exception:
                    pass
            for source in videos.values():
                source.close()
            partial.unlink(missing_ok=True)
    return RenderReport(out, plan.duration, frames, time.monotonic() - started, broken)


def _room_time(plan: Plan, t: float) -> float:
    seg = plan.segment_at(t) or (plan.segments[0] if plan.segments else None)
    return seg.room_start + (t - seg.start) if seg else 0.0


def _mux_audio_only(
    plan: Plan, output: OutputFile, mixdown: AudioMixdown | None, progress: Progress | None
) -> None:
    """With no video the main thread only muxes what the audio thread encodes, in steps of
    AUDIO_ONLY_STEP so progress is reported and the packet queue keeps memory flat."""
    assert mixdown is not None
    steps = max(1, math.ceil(plan.duration / AUDIO_ONLY_STEP))
    for i in range(1, steps + 1):
        done = min(plan.duration, i * AUDIO_ONLY_STEP)
        output.mux(mixdown.take_until(done, lag_allowed=0.0))
        if progress:
            progress(done, plan.duration)


def _walk(
    plan: Plan,
    tick: float,
    videos: dict[str, VideoSource],
    disabled: dict[str, IntervalSet],
    output: OutputFile,
    mixdown: AudioMixdown | None,
    progress: Progress | None,
    skip_broken: bool,
) -> int:
    canvas = Canvas(plan.width, plan.height)
    ticks = tick_count(plan, tick)
    last_key: tuple | None = None
    last_frame = None
    last_layout: tuple | None = None
    views: list = []
    frames = 0
    report_every = max(1, ticks // 200)
    for n, t_out, seg, room_t in output_ticks(plan, tick):
        placed = []
        for tile in seg.tiles:
            source = videos[tile.source]
            picture = source.picture_at(room_t, (tile.width, tile.height))
            if source.error and not skip_broken:
                raise ComposeError(source.error, source.sid)
            if picture is None or disabled[tile.source].contains(room_t):
                continue
            placed.append((tile, picture))
        key = tuple((t, id(p)) for t, p in placed)
        if key != last_key:
            layout = tuple((t, p.y.shape) for t, p in placed)
            if layout != last_layout:
                # Anything may have moved: start from black. Otherwise every pixel outside
                # the pictures is black already and only the pictures are replaced.
                last_frame, views = canvas.new_frame()
                last_layout = layout
            for tile, picture in placed:
                canvas.paste(views, picture, tile.x, tile.y, tile.width, tile.height)
            last_key = key
        output.add_video(last_frame, n)
        frames += 1
        if mixdown is not None:
            output.mux(mixdown.take_until(t_out))
        if progress and (n % report_every == 0 or n == ticks - 1):
            progress((n + 1) * tick, plan.duration)
    return frames
