"""Broken recordings end with one line naming the recording and the reason, never a traceback."""

import json
import shutil
import subprocess
import sys

import pytest

from pipeline.media.manifest import load_manifest

pytestmark = pytest.mark.media


@pytest.fixture
def copy(room, tmp_path):
    target = tmp_path / "room"
    shutil.copytree(room, target)
    return target


def video_of(room_dir, identity="bob"):
    manifest = load_manifest(room_dir)
    return next(r for r in manifest.recordings.values() if r.track_name == f"{identity}-cam")


def run(room_dir, *extra, out=None):
    out = out or room_dir / "out.mp4"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "compose",
            str(room_dir),
            "--layout",
            "grid",
            "--audio-sources",
            "*",
            "--quiet",
            "--out",
            str(out),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_error(result, sid, reason):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert sid in lines[0] and reason in lines[0], lines[0]


def test_missing_file(copy):
    rec = video_of(copy)
    (copy / rec.media).unlink()
    result = run(copy)
    assert_one_line_error(result, rec.sid, "missing")
    assert not (copy / "out.mp4").exists()


def test_truncated_file(copy):
    rec = video_of(copy)
    data = (copy / rec.media).read_bytes()
    (copy / rec.media).write_bytes(data[: len(data) // 4])
    assert_one_line_error(run(copy), rec.sid, "truncated")


def test_corrupt_file(copy):
    rec = video_of(copy)
    (copy / rec.media).write_bytes(b"\x00garbage" * 5000)
    assert_one_line_error(run(copy), rec.sid, "not a readable container")


def test_unknown_codec(copy, tmp_path):
    import av
    import numpy as np

    rec = video_of(copy)
    with av.open(str(copy / rec.media), "w", format="matroska") as out:
        stream = out.add_stream("mpeg4", rate=15)
        stream.width, stream.height = 320, 240
        for i in range(90):
            frame = av.VideoFrame.from_ndarray(np.zeros((240, 320, 3), np.uint8), format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    assert_one_line_error(run(copy), rec.sid, "unsupported video codec 'mpeg4'")


def test_skip_broken_composes_the_rest_and_says_so(copy):
    rec = video_of(copy)
    (copy / rec.media).unlink()
    result = run(copy, "--skip-broken")
    assert result.returncode == 0, result.stderr
    assert f"recording {rec.sid} left out" in result.stderr
    assert (copy / "out.mp4").stat().st_size > 0


def test_layout_selecting_nothing(copy):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "compose",
            str(copy),
            "--layout",
            '{"g": {"video_sources": ["nobody"]}}',
            "--quiet",
            "--out",
            str(copy / "x.mp4"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "selects no video or audio recording" in result.stderr


def test_bad_layout_names_the_field(copy):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "layout",
            "plan",
            "--sources",
            str(copy / "room.json"),
            "--layout",
            '{"grid": {"video_sources": "*"}}',
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "roomreel: error: video_layout.grid.video_sources must be a list"


def test_malformed_manifest(copy):
    (copy / "room.json").write_text(json.dumps({"recordings": [{"sid": "RTx"}]}))
    result = run(copy)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "recordings[0] has no 'kind'" in result.stderr
