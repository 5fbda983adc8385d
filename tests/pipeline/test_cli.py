"""The `roomreel` command line: plan JSON, preview picture, presets, demo."""

import json
import subprocess
import sys

import pytest
from PIL import Image

from pipeline.compose.preview import source_colour
from pipeline.media.manifest import load_manifest


def roomreel(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        capture_output=True,
        text=True,
        timeout=kwargs.pop("timeout", 120),
        **kwargs,
    )


def test_layout_plan_prints_the_plan(room):
    result = roomreel(
        "layout",
        "plan",
        "--layout",
        "grid",
        "--sources",
        str(room / "room.json"),
        "--resolution",
        "1280x720",
        "--audio-sources",
        "*",
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["resolution"] == "1280x720"
    assert plan["duration"] == pytest.approx(8.0, abs=0.01)
    assert plan["segments"][0]["start"] == 0
    assert {"source", "region", "cell", "x", "y", "width", "height", "z"} <= set(
        plan["segments"][0]["tiles"][0]
    )
    assert len(plan["audio"]) == 3


def test_no_trim_flag(room):
    result = roomreel("layout", "plan", "--layout", "grid", "--sources", str(room / "room.json"), "--no-trim")
    assert json.loads(result.stdout)["duration"] == pytest.approx(10.0)


def test_preview_draws_each_source_in_its_colour(room, tmp_path):
    out = tmp_path / "p.png"
    result = roomreel(
        "layout",
        "preview",
        "--layout",
        "grid",
        "--sources",
        str(room / "room.json"),
        "--at",
        "3",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    image = Image.open(out).convert("RGB")
    assert image.size == (640, 480)
    manifest = load_manifest(room)
    carol = next(sid for sid, r in manifest.recordings.items() if r.track_name == "carol-cam")
    assert image.getpixel((160, 400)) == source_colour(carol)
    assert image.getpixel((480, 400)) == (0, 0, 0)


def test_presets_are_listed():
    result = roomreel("layout", "presets")
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == sorted(
        ["chess", "grid", "mosaic", "pip", "presentation", "sequence", "sidebar", "single"]
    )


def test_compose_needs_a_layout_or_audio(room, tmp_path):
    result = roomreel("compose", str(room), "--out", str(tmp_path / "x.mp4"))
    assert (
        result.returncode == 2
        and result.stderr.strip() == "roomreel: error: give --layout, --audio-sources or both"
    )


@pytest.mark.media
def test_demo_records_and_composes_a_live_room(tmp_path):
    result = roomreel("demo", env={"ROOMREEL_DATA_DIR": str(tmp_path), "PATH": ""}, timeout=300)
    assert result.returncode == 0, result.stderr
    path = result.stdout.strip().splitlines()[-1]
    assert path.endswith(".mp4") and path.startswith(str(tmp_path))
    assert (tmp_path / "demo" / "preview.png").exists()
    assert result.stderr.count("completed") == 8  # 4 bots x camera + microphone
    from tests.media_checks import close, colour, streams, video_frames

    info = streams(path)
    assert (info.video_codec, info.audio_codec, info.width, info.height) == ("h264", "aac", 1280, 720)
    assert info.duration == pytest.approx(20.0, abs=1.5)
    frames = video_frames(path)
    # At 12 s all four are in the 2x2 grid (bob's camera is back on, nobody flashes).
    img = next(img for t, img in frames if t >= 12.0)
    found = sorted(colour(img, x, y) for x, y in ((320, 180), (960, 180), (320, 540), (960, 540)))
    from pipeline.media.synthetic import COLORS

    assert all(any(close(f, c, 40) for f in found) for c in COLORS[:4]), found


def test_import_and_keys_create(room, tmp_path):
    env = {"ROOMREEL_DATA_DIR": str(tmp_path), "PATH": ""}
    imported = roomreel("import", str(room), env=env)
    assert imported.returncode == 0, imported.stderr
    sid = imported.stdout.strip()
    assert sid.startswith("RM") and len(sid) == 34
    key = roomreel("keys", "create", "--friendly-name", "ci", env=env)
    assert key.returncode == 0, key.stderr
    created = json.loads(key.stdout)
    assert created["sid"].startswith("SK") and created["secret"] and created["account_sid"].startswith("AC")
    assert any(p.name == "room.json" for p in (tmp_path / "storage" / "rooms" / sid).iterdir())


def test_token_mints_what_the_official_library_would(tmp_path):
    import os

    import jwt

    from pipeline.config import Settings
    from pipeline.db import Database
    from pipeline.db.models import ApiKey

    env = {**os.environ, "ROOMREEL_DATA_DIR": str(tmp_path)}
    result = roomreel("token", "--identity", "alice", "--room", "standup", "--ttl", "600", env=env)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["cty"]) == ("HS256", "twilio-fpa;v=1")
    key_sid = jwt.decode(token, options={"verify_signature": False})["iss"]
    with Database(Settings.from_env(env).database_url).session() as session:
        secret = session.get(ApiKey, key_sid).secret
    claims = jwt.decode(token, secret, algorithms=["HS256"])  # the signature checks out with the key's secret
    assert claims["sub"].startswith("AC") and claims["iss"].startswith("SK")
    assert claims["grants"] == {"identity": "alice", "video": {"room": "standup"}}
    assert claims["exp"] - claims["nbf"] == 600
