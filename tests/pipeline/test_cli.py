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
        ["chess", "grid", "mosaic", "pip", "presentation", "sequence", "sidebar", "single", "speaker"]
    )


def test_compose_needs_a_layout_or_audio(room, tmp_path):
    result = roomreel("compose", str(room), "--out", str(tmp_path / "x.mp4"))
    assert (
        result.returncode == 2
        and result.stderr.strip() == "roomreel: error: give --layout, --audio-sources or both"
    )


@pytest.mark.media
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


def test_a_preview_past_the_end_and_an_output_folder_that_is_missing_are_said_plainly(room, tmp_path):
    late = roomreel("layout", "preview", "--layout", "grid", "--sources", str(room / "room.json"),
                    "--at", "99", "--out", str(tmp_path / "p.png"))  # fmt: skip
    assert late.returncode != 0 and "--at 99 is outside the composition" in late.stderr
    assert "Traceback" not in late.stderr and not (tmp_path / "p.png").exists()
    missing = tmp_path / "no" / "such" / "room.mp4"
    out = roomreel("compose", str(room), "--audio-sources", "*", "--out", str(missing))
    assert out.returncode != 0 and f"the folder {missing.parent} does not exist" in out.stderr
    assert "internal error" not in out.stderr
