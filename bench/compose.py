"""roomreel compose against a hand-written ffmpeg command on the same room.

Builds a 4-participant 640x480 room (textured VP8 at 30 fps, Opus tones), composes it
to a 1280x720 grid mp4 with `roomreel compose`, then runs one ffmpeg filter graph
(scale + pad, xstack, amix) at the same x264 preset and CRF. Prints both wall times,
the ratio roomreel/ffmpeg, the realtime factor and the peak RSS of each.

    python bench/compose.py [--seconds 120] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.compose.output import X264_CRF, X264_PRESET  # noqa: E402
from tests.synthetic_room import COLORS, Participant, make_room  # noqa: E402

FPS = 30


def run(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - started
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[0]} failed:\n{stderr[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def ffmpeg_command(ffmpeg: str, manifest: dict, room: Path, out: Path) -> list[str]:
    videos = [r for r in manifest["recordings"] if r["kind"] == "video"]
    audios = [r for r in manifest["recordings"] if r["kind"] == "audio"]
    cmd = [ffmpeg, "-y", "-loglevel", "error"]
    for rec in videos + audios:
        cmd += ["-i", str(room / rec["media"])]
    cell_w, cell_h = 640, 360
    chains = [
        f"[{i}:v]scale={cell_w}:{cell_h}:force_original_aspect_ratio=decrease,"
        f"pad={cell_w}:{cell_h}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps={FPS}[v{i}]"
        for i in range(len(videos))
    ]
    stack = "".join(f"[v{i}]" for i in range(len(videos)))
    chains.append(f"{stack}xstack=inputs={len(videos)}:layout=0_0|w0_0|0_h0|w0_h0[v]")
    mix = "".join(f"[{len(videos) + i}:a]" for i in range(len(audios)))
    chains.append(f"{mix}amix=inputs={len(audios)}:normalize=0[a]")
    return cmd + [
        "-filter_complex",
        ";".join(chains),
        "-map",
        "[v]",
        "-map",
        "[a]",
        "-c:v",
        "libx264",
        "-preset",
        X264_PRESET,
        "-crf",
        str(X264_CRF),
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-movflags",
        "+faststart",
        str(out),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--keep", help="keep the room and outputs in this directory")
    args = parser.parse_args()

    import imageio_ffmpeg

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="roomreel-bench-"))
    room = work / "room"
    try:
        if not (room / "room.json").exists():
            print(f"building a 4 x {args.seconds:.0f} s 640x480 room in {room} ...", flush=True)
            people = [
                Participant(
                    f"p{i}",
                    COLORS[i],
                    0.0,
                    args.seconds,
                    tone_hz=300 + 100 * i,
                    size=(640, 480),
                    textured=True,
                )
                for i in range(4)
            ]
            make_room(room, people, fps=FPS)
        import json

        manifest = json.loads((room / "room.json").read_text())
        roomreel = [
            sys.executable,
            "-m",
            "pipeline.cli",
            "compose",
            str(room),
            "--layout",
            "grid",
            "--audio-sources",
            "*",
            "--resolution",
            "1280x720",
            "--fps",
            str(FPS),
            "--quiet",
            "--out",
            str(work / "roomreel.mp4"),
        ]
        ffmpeg = ffmpeg_command(imageio_ffmpeg.get_ffmpeg_exe(), manifest, room, work / "ffmpeg.mp4")
        ours, ours_rss = run(roomreel)
        theirs, theirs_rss = run(ffmpeg)
        print(f"media seconds        {args.seconds:.0f}")
        print(
            f"roomreel compose     {ours:7.2f} s  {args.seconds / ours:5.2f}x realtime  peak RSS {ours_rss:6.0f} MB"
        )
        print(
            f"hand-written ffmpeg  {theirs:7.2f} s  {args.seconds / theirs:5.2f}x realtime  peak RSS {theirs_rss:6.0f} MB"
        )
        print(f"ratio roomreel/ffmpeg {ours / theirs:.3f}  (target <= 1.0, RSS < 400 MB)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
