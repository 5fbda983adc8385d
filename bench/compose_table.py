"""roomreel compose against hand-written ffmpeg commands on six kinds of room, in one run.

Each row builds a synthetic room, composes it to 1280x720 mp4 with `roomreel compose` and runs a
hand-written ffmpeg command on the same inputs at the same x264 preset and CRF, alternately,
`--runs` times each, and prints the median wall times, the ratio roomreel/ffmpeg, both realtime
factors, peak RSS and output sizes. The ffmpeg command places each visible input where the
layout puts it (scale, pad, overlay onto a black canvas; `xstack` for the 2x2 grid, as the
original bench/compose.py row), mixes every audio input with amix, and encodes as roomreel does.

Rows: 4 textured cameras in a grid; 4 flat-colour participants with flashes; 1 screen share (a
slide that changes every 10 s) and 3 cameras in `presentation`; 9 participants in a 3x3 grid; 16
participants of whom the grid shows 9 (`max_rows`/`max_columns` 3); 4 participants whose video
is disabled for half of the room. Target: roomreel/ffmpeg <= 0.9 on every row.

    python bench/compose_table.py [--seconds 30] [--runs 2] [--rows flat,nine] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import layouts  # noqa: E402
from bench.compose import FPS, ffmpeg_command, run  # noqa: E402
from pipeline.compose.output import X264_CRF, X264_PRESET  # noqa: E402
from tests.synthetic_room import COLORS, Participant, make_room  # noqa: E402

GRID_3x3 = {"grid": {"video_sources": ["*"], "max_rows": 3, "max_columns": 3}}


def palette(i: int) -> tuple[int, int, int]:
    base = COLORS[i % len(COLORS)]
    shade = 1.0 - 0.15 * (i // len(COLORS))
    return tuple(int(c * shade) for c in base)  # type: ignore[return-value]


def people(kind: str, seconds: float) -> tuple[list[Participant], object]:
    """The room's participants and the layout roomreel composes it with."""
    if kind == "textured":
        return [Participant(f"p{i}", COLORS[i], 0.0, seconds, tone_hz=300 + 100 * i, size=(640, 480),
                            textured=True) for i in range(4)], "grid"  # fmt: skip
    if kind == "flat":
        return [Participant(f"p{i}", COLORS[i], 0.0, seconds, tone_hz=300 + 100 * i, size=(640, 480),
                            flashes=[t + i * 0.5 for t in range(2, int(seconds), 5)])
                for i in range(4)], "grid"  # fmt: skip
    if kind == "presentation":
        share = Participant("screen", (230, 230, 230), 0.0, seconds, audio=False, size=(1280, 720),
                            slides_every=10.0)  # fmt: skip
        cams = [Participant(f"p{i}", COLORS[i], 0.0, seconds, tone_hz=300 + 100 * i, size=(640, 480))
                for i in range(3)]  # fmt: skip
        return [share, *cams], "presentation"
    if kind == "nine":
        return [Participant(f"p{i}", palette(i), 0.0, seconds, tone_hz=200 + 50 * i, size=(640, 480))
                for i in range(9)], "grid"  # fmt: skip
    if kind == "sixteen":
        return [Participant(f"p{i:02d}", palette(i), 0.0, seconds, tone_hz=200 + 30 * i, size=(640, 480))
                for i in range(16)], GRID_3x3  # fmt: skip
    if kind == "half-disabled":
        return [Participant(f"p{i}", COLORS[i], 0.0, seconds, tone_hz=300 + 100 * i, size=(640, 480),
                            disabled=[(seconds / 4, 3 * seconds / 4)]) for i in range(4)], "grid"  # fmt: skip
    raise SystemExit(f"unknown row {kind!r}")


ROWS = ("textured", "flat", "presentation", "nine", "sixteen", "half-disabled")


def overlay_command(ffmpeg: str, manifest: dict, room: Path, out: Path, layout, seconds: float) -> list[str]:
    """One hand-written graph: every visible camera scaled into its cell and overlaid on black."""
    plan = layouts.plan_for_manifest(manifest, layout, "1280x720", ["*"], [])
    middle = plan.segment_at(plan.duration / 2) or plan.segments[0]
    tiles = {t.source: t for t in middle.tiles}
    videos = [r for r in manifest["recordings"] if r["kind"] == "video" and r["sid"] in tiles]
    audios = [r for r in manifest["recordings"] if r["kind"] == "audio"]
    cmd = [ffmpeg, "-y", "-loglevel", "error"]
    for rec in videos + audios:
        cmd += ["-i", str(room / rec["media"])]
    chains = [f"color=black:s=1280x720:r={FPS}:d={seconds}[base0]"]
    for i, rec in enumerate(videos):
        t = tiles[rec["sid"]]
        chains.append(
            f"[{i}:v]scale={t.width}:{t.height}:force_original_aspect_ratio=decrease,"
            f"pad={t.width}:{t.height}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps={FPS}[v{i}]"
        )
        chains.append(f"[base{i}][v{i}]overlay={t.x}:{t.y}:eof_action=pass[base{i + 1}]")
    mix = "".join(f"[{len(videos) + i}:a]" for i in range(len(audios)))
    chains.append(f"{mix}amix=inputs={len(audios)}:normalize=0[a]")
    return cmd + [
        "-filter_complex", ";".join(chains), "-map", f"[base{len(videos)}]", "-map", "[a]",
        "-c:v", "libx264", "-preset", X264_PRESET, "-crf", str(X264_CRF), "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(out),
    ]  # fmt: skip


def roomreel_command(room: Path, layout, out: Path) -> list[str]:
    text = layout if isinstance(layout, str) else json.dumps(layout)
    return [sys.executable, "-m", "pipeline.cli", "compose", str(room), "--layout", text, "--audio-sources", "*",
            "--resolution", "1280x720", "--fps", str(FPS), "--quiet", "--out", str(out)]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--keep", help="keep the rooms and outputs in this directory")
    args = parser.parse_args()

    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="roomreel-bench-"))
    print(f"{'row':14} {'roomreel':>9} {'ffmpeg':>8} {'ratio':>6} {'rr x rt':>8} {'ff x rt':>8} "
          f"{'rr MB':>6} {'ff MB':>6} {'rr size':>9} {'ff size':>9}")  # fmt: skip
    try:
        for kind in args.rows.split(","):
            room = work / kind
            participants, layout = people(kind, args.seconds)
            if not (room / "room.json").exists():
                make_room(room, participants, fps=FPS)
            manifest = json.loads((room / "room.json").read_text())
            ours_out, theirs_out = work / f"{kind}-roomreel.mp4", work / f"{kind}-ffmpeg.mp4"
            if kind == "textured":
                theirs_cmd = ffmpeg_command(ffmpeg, manifest, room, theirs_out)
            else:
                theirs_cmd = overlay_command(ffmpeg, manifest, room, theirs_out, layout, args.seconds)
            ours_cmd = roomreel_command(room, layout, ours_out)
            ours, theirs, ours_rss, theirs_rss = [], [], [], []
            for n in range(args.runs):
                for which in ("ours", "theirs") if n % 2 == 0 else ("theirs", "ours"):
                    elapsed, rss = run(ours_cmd if which == "ours" else theirs_cmd)
                    (ours if which == "ours" else theirs).append(elapsed)
                    (ours_rss if which == "ours" else theirs_rss).append(rss)
            a, b = statistics.median(ours), statistics.median(theirs)
            print(f"{kind:14} {a:8.2f}s {b:7.2f}s {a / b:6.3f} {args.seconds / a:7.2f}x {args.seconds / b:7.2f}x "
                  f"{max(ours_rss):6.0f} {max(theirs_rss):6.0f} {ours_out.stat().st_size / 1e6:8.2f}M "
                  f"{theirs_out.stat().st_size / 1e6:8.2f}M", flush=True)  # fmt: skip
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
