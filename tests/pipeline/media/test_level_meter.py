"""Levels computed from decoded audio (RFC 6464 scale), cached beside the media; speech from levels."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from pipeline.media import level_meter
from pipeline.media.level_meter import levels_in_room_dir, measure
from pipeline.media.levels import RATE, SILENCE, LevelTimeline, levels_name
from pipeline.media.speech import room_speech, speaking_intervals
from tests.synthetic_room import COLORS, Participant, make_room

pytestmark = pytest.mark.media
SR = 48_000


def write_audio(path, signal: np.ndarray, codec: str = "libopus") -> None:
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream(codec, rate=SR, layout="mono")
        step = 960
        for offset in range(0, len(signal) // step * step, step):
            frame = av.AudioFrame.from_ndarray(
                signal[offset : offset + step].astype(np.float32).reshape(1, -1), format="flt", layout="mono"
            )
            frame.sample_rate, frame.pts, frame.time_base = SR, offset, Fraction(1, SR)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def seconds(n: float) -> np.ndarray:
    return np.arange(int(n * SR)) / SR


def test_a_full_scale_sine_is_about_3_and_silence_is_127(tmp_path):
    write_audio(tmp_path / "sine.mka", 0.999 * np.sin(2 * np.pi * 440 * seconds(2)))
    write_audio(tmp_path / "silence.mka", np.zeros(2 * SR))
    sine, silence = measure(tmp_path / "sine.mka"), measure(tmp_path / "silence.mka")
    assert sine.rate == RATE and sine.source == "decoded"
    assert len(sine.values) == pytest.approx(2 * RATE, abs=1)
    assert all(2 <= v <= 4 for v in sine.values[1:-1])
    assert set(silence.values) == {SILENCE}


def test_pcm_and_a_quieter_tone(tmp_path):
    write_audio(tmp_path / "tone.mka", 0.1 * np.sin(2 * np.pi * 440 * seconds(1)), codec="pcm_s16le")
    values = measure(tmp_path / "tone.mka").values
    assert all(v == 23 for v in values[1:-1])  # 0.1 amplitude: rms -23 dBov


def test_bursts_are_placed_in_their_slots(tmp_path):
    t = seconds(3)
    write_audio(tmp_path / "burst.mka", 0.3 * np.sin(2 * np.pi * 440 * t) * ((t >= 1.0) & (t < 1.5)))
    timeline = measure(tmp_path / "burst.mka")
    loud = [i for i, v in enumerate(timeline.values) if v <= 50]
    assert loud[0] in (19, 20) and loud[-1] in (29, 30)
    assert speaking_intervals(timeline, start=10.0) == [
        pytest.approx((10 + loud[0] / RATE, 10 + (loud[-1] + 1) / RATE))
    ]


def test_speaking_intervals_bridge_short_pauses_only():
    quiet, loud = [SILENCE] * 4, [20] * 10
    timeline = LevelTimeline(RATE, tuple(loud + quiet + loud + [SILENCE] * 10 + loud), "rtp")
    # a 200 ms pause is bridged, a 500 ms one is not
    assert speaking_intervals(timeline, 2.0) == [(2.0, 3.2), (3.7, 4.2)]
    assert speaking_intervals(LevelTimeline(RATE, (60, 51, 127)), 0.0) == []


def test_room_speech_groups_by_participant():
    recordings = [
        {"sid": "RT1", "kind": "audio", "participant_sid": "PA1", "start": 1.0},
        {"sid": "RT2", "kind": "audio", "participant_sid": "PA1", "start": 5.0},
        {"sid": "RT3", "kind": "video", "participant_sid": "PA1", "start": 0.0},
        {"sid": "RT4", "kind": "audio", "participant_sid": "PA2", "start": 0.0},
    ]
    loud = LevelTimeline(RATE, (10,) * 20)
    speech = room_speech(recordings, {"RT1": loud, "RT2": loud})
    assert speech == {"PA1": [(1.0, 2.0), (5.0, 6.0)]}


def test_a_computed_levels_file_is_cached_beside_the_media(tmp_path, monkeypatch):
    people = [
        Participant("alice", COLORS[0], 0.0, 3.0, video=False, speech=[(1.0, 2.0)]),
        Participant("bob", COLORS[1], 0.5, 3.0, video=False),
    ]
    manifest = make_room(tmp_path, people)
    first = levels_in_room_dir(tmp_path, manifest["recordings"])
    files = {sid: tmp_path / levels_name(sid) for sid in first}
    assert len(files) == 2 and all(f.is_file() for f in files.values())
    mtimes = {sid: f.stat().st_mtime_ns for sid, f in files.items()}

    def no_decoding(path, rate=RATE):
        raise AssertionError(f"decoded {path} again")

    monkeypatch.setattr(level_meter, "measure", no_decoding)
    second = levels_in_room_dir(tmp_path, manifest["recordings"])
    assert second == first
    assert {sid: f.stat().st_mtime_ns for sid, f in files.items()} == mtimes
    speech = room_speech(manifest["recordings"], second)
    alice = people[0].participant_sid
    ((start, end),) = speech[alice]
    assert start == pytest.approx(1.0, abs=0.06) and end == pytest.approx(2.0, abs=0.06)
    ((start, end),) = speech[people[1].participant_sid]  # bob's tone never stops
    assert start == pytest.approx(0.5, abs=0.06) and end == pytest.approx(3.0, abs=0.06)
