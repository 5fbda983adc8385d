"""The packet journal: records survive a torn tail, and a live writer's journal is locked
against recovery by any other process of the host."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from pipeline.recording.journal import JournalWriter, being_written, read_frames, read_header


def test_records_read_back_and_a_torn_last_record_is_ignored(tmp_path):
    path = tmp_path / "t.rrj"
    writer = JournalWriter(path, {"kind": "audio", "codec": "opus"})
    for i in range(5):
        writer.append(i * 960, 1000.0 + i * 0.02, False, bytes([i]) * 40)
    writer.close()
    with open(path, "ab") as f:
        f.write(b"\x28\x00\x00\x00partial")  # a record cut off by a crash
    frames = list(read_frames(path))
    assert read_header(path)["codec"] == "opus"
    assert [f.pts for f in frames] == [0, 960, 1920, 2880, 3840] and frames[4].data == bytes([4]) * 40


def test_a_journal_is_locked_while_written_even_from_another_process(tmp_path):
    path = tmp_path / "live.rrj"
    writer = JournalWriter(path, {"kind": "video"})
    assert being_written(path)
    probe = textwrap.dedent(f"""
        from pathlib import Path
        from pipeline.recording.journal import being_written
        print(being_written(Path({str(path)!r})))
    """)
    other = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == "True"
    writer.close()
    assert not being_written(path)
    assert not being_written(tmp_path / "missing.rrj")


def test_a_dead_writers_journal_is_free_for_recovery(tmp_path):
    path = tmp_path / "dead.rrj"
    script = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from pipeline.recording.journal import JournalWriter
        w = JournalWriter(Path({str(path)!r}), {{"kind": "audio"}})
        w.append(0, 1.0, False, b"x" * 10)
        os._exit(0)  # dies without closing
    """)
    subprocess.run([sys.executable, "-c", script], check=True)
    assert path.exists() and not being_written(path)
