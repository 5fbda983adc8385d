"""Compositions that follow the active speaker (tests/talking_room.py): the main region shows
each talker's colour from at most 1 s after they start, changes no faster than the hold, and
never goes to someone who only coughed; the room directory keeps the computed levels."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PIL import Image

import layouts
from pipeline.compose import render
from pipeline.compose.preview import source_colour
from pipeline.media.levels import levels_name
from pipeline.media.manifest import load_manifest
from pipeline.media.speech import speech_in_room_dir
from tests.media_checks import close, colour, video_frames
from tests.synthetic_room import make_room
from tests.talking_room import LENGTH, MAIN, SIZE, TURNS, check_follows_the_talker, people, who

pytestmark = [pytest.mark.media, pytest.mark.slow]


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    directory = tmp_path_factory.mktemp("talking-room")
    make_room(directory, people(), fps=15, duration=LENGTH)
    return directory


def roomreel(*args):
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_speaker_preset_follows_the_talker_and_caches_the_levels(room, tmp_path):
    out = tmp_path / "speaker.mp4"
    roomreel("compose", str(room), "--layout", "speaker", "--resolution", SIZE, "--audio-sources", "*",
             "--fps", "15", "--quiet", "--out", str(out))  # fmt: skip
    measured = check_follows_the_talker(out)
    print("turn, start, shown from:", measured)
    manifest = load_manifest(room)
    audio = [sid for sid, rec in manifest.recordings.items() if rec.kind == "audio"]
    assert all((room / levels_name(sid)).is_file() for sid in audio)
    # The strip along the bottom never shows the one in the main region.
    frames = dict(video_frames(out))
    for t in (7.0, 11.0, 15.0):
        img = min(frames.items(), key=lambda item: abs(item[0] - t))[1]
        strip = {who(colour(img, x, 148)) for x in (80, 240)}
        assert who(colour(img, *MAIN)) not in strip and len(strip - {"?"}) == 2


def test_a_plain_active_speaker_region_follows_the_talker(room, tmp_path):
    manifest = load_manifest(room)
    layout = {"main": {"video_sources": ["*-cam"], "max_rows": 1, "max_columns": 1, "active_speaker": True}}
    speech = speech_in_room_dir(room, manifest.data["recordings"])
    plan = layouts.plan_for_manifest(manifest.data, layout, SIZE, ["*"], speech=speech)
    out = tmp_path / "main.webm"
    render(manifest, plan, out, "webm", fps=15)
    check_follows_the_talker(out)


def test_layout_plan_and_preview_show_the_switches(room, tmp_path):
    plan = json.loads(
        roomreel(
            "layout",
            "plan",
            "--layout",
            "speaker",
            "--sources",
            str(room / "room.json"),
            "--resolution",
            SIZE,
        )
    )
    main = [
        (s["room_start"], t["source"])
        for s in plan["segments"]
        for t in s["tiles"]
        if t["region"] == "speaker"
    ]
    names = {r["sid"]: r["participant_identity"] for r in load_manifest(room).data["recordings"]}
    switches = [(round(t, 2), names[sid]) for (t, sid), (_, before) in zip(main[1:], main) if sid != before]
    assert [n for _, n in switches] == ["bob", "carol", "alice"]
    for (at, _), (_, _, start, _) in zip(switches, TURNS[1:]):
        assert 0 < at - start <= 1.0
    cams = {
        r["participant_identity"]: r["sid"]
        for r in load_manifest(room).data["recordings"]
        if r["kind"] == "video"
    }
    for at, talker in ((7.0, "bob"), (11.0, "carol")):
        out = tmp_path / f"p{at}.png"
        roomreel("layout", "preview", "--layout", "speaker", "--sources", str(room), "--resolution", SIZE,
                 "--at", str(at), "--out", str(out))  # fmt: skip
        pixel = Image.open(out).convert("RGB").getpixel(MAIN)
        assert close(pixel, source_colour(cams[talker]), 40), (at, talker, pixel)
