"""Peak memory must not grow with the length of the room: one streaming pass.

webm at 5 fps keeps the 30-minute room cheap to encode; memory is what is measured.
"""

import os
import subprocess
import sys

import pytest

from tests.synthetic_room import COLORS, Participant, make_room

pytestmark = pytest.mark.media


def peak_rss_mb(room, out) -> float:
    proc = subprocess.Popen(
        [
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
            "320x240",
            "--fps",
            "5",
            "--format",
            "webm",
            "--quiet",
            "--out",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, proc.stderr.read().decode()
    return usage.ru_maxrss / 1024


def room_of(directory, seconds: float):
    people = [
        Participant("a", COLORS[0], 0.0, seconds, size=(160, 120), flashes=[5.0]),
        Participant(
            "b", COLORS[1], 1.0, seconds - 1.0, size=(160, 120), audio=False, disabled=[(10.0, 20.0)]
        ),
    ]
    make_room(directory, people, fps=5)
    return directory


def test_peak_rss_of_a_30_minute_room_matches_a_1_minute_room(tmp_path):
    short = peak_rss_mb(room_of(tmp_path / "short", 60.0), tmp_path / "short.webm")
    long = peak_rss_mb(room_of(tmp_path / "long", 1800.0), tmp_path / "long.webm")
    print(f"peak RSS: 1 min {short:.0f} MB, 30 min {long:.0f} MB")
    assert long < short + 25, (short, long)
