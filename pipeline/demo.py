"""`roomreel demo`: one room, its recordings and a composition, on the embedded defaults.

Until the forwarding core and the recording participant land, the room's recordings are
made by the synthetic-room generator (four bots with distinct colours and tones, one joining
late, one leaving early) exactly as the recorder lays them out; the rest is the real path:
plan, compose, check the output.
"""

from __future__ import annotations

import os
from pathlib import Path

import av
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn
from rich.table import Table

import layouts
from pipeline.compose import render
from pipeline.media.manifest import load_manifest
from pipeline.media.synthetic import COLORS, Participant, make_room

SECONDS = 20.0


def data_dir() -> Path:
    return Path(os.environ.get("ROOMREEL_DATA_DIR", ".roomreel")).resolve()


def bots() -> list[Participant]:
    return [
        Participant("alice", COLORS[0], 0.0, SECONDS, tone_hz=330, flashes=[2.0, 12.0]),
        Participant("bob", COLORS[1], 0.5, SECONDS, tone_hz=440, flashes=[4.0], disabled=[(8.0, 10.0)]),
        Participant("carol", COLORS[2], 5.0, SECONDS, tone_hz=550, flashes=[7.0]),  # joins late
        Participant("dave", COLORS[3], 1.0, 15.0, tone_hz=660, flashes=[9.0]),  # leaves early
    ]


def save_frame(video: Path, at: float, out: Path) -> Path:
    with av.open(str(video)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= at:
                frame.to_image().save(out)
                return out
    raise RuntimeError(f"{video} has no frame at {at} s")


def run(console: Console | None = None) -> Path:
    console = console or Console(stderr=True)
    room = data_dir() / "demo" / "room"
    console.print(f"[bold]roomreel demo[/bold]: recording a {SECONDS:.0f} s room of 4 bots into {room}")
    manifest_data = make_room(room, bots(), fps=15, room_name="demo")
    manifest = load_manifest(room)
    plan = layouts.plan_for_manifest(manifest_data, "grid", "1280x720", ["*"])
    out = room.parent / "composition.mp4"
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("composing", total=plan.duration)
        report = render(manifest, plan, out, "mp4", progress=lambda done, _: bar.update(task, completed=done))
    with av.open(str(out)) as container:
        kinds = sorted(s.type for s in container.streams)
        duration = (container.duration or 0) / 1e6
    if kinds != ["audio", "video"] or abs(duration - plan.duration) > 0.2:
        raise RuntimeError(
            f"composition check failed: streams {kinds}, {duration:.2f} s of {plan.duration:.2f} s"
        )
    preview = save_frame(out, 10.0, room.parent / "preview.png")

    table = Table(title="recordings")
    for column in ("sid", "track", "kind", "codec", "start", "end", "bytes"):
        table.add_column(column)
    for rec in manifest_data["recordings"]:
        size = (room / rec["media"]).stat().st_size
        table.add_row(
            rec["sid"],
            rec["track_name"],
            rec["kind"],
            rec["codec"],
            f"{rec['start']:.2f}",
            f"{rec['end']:.2f}",
            str(size),
        )
    console.print(table)
    console.print(
        f"composed {report.duration:.1f} s in {report.elapsed:.1f} s "
        f"({report.realtime_factor:.1f}x realtime); preview frame: {preview}"
    )
    return out
