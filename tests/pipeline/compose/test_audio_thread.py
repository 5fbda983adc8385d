"""The audio path on one thread: a plan that cuts room time keeps every beep where the cut puts
it, in step with the flashes, and a room's audio tracks are read by one thread, not one each;
Opus read straight from its planes gives what FFmpeg's resampler gives."""

import threading

import av
import numpy as np
import pytest

import layouts
from layouts import AudioSpan, Plan, Segment
from pipeline.compose import render
from pipeline.compose.audio_source import CHANNELS, SAMPLE_RATE, direct_samples
from pipeline.media.manifest import load_manifest
from tests.media_checks import audio_samples, beep_onsets, flash_onsets, streams, video_frames

pytestmark = pytest.mark.media
ALICE, CAROL = (160, 120), (160, 360)
# Output [0, 2) is room [0, 2); output [2, 5) is room [3.5, 6.5): bob's beep at 2.6 is cut out,
# alice's at 4.0 lands at 2.5 and carol's at 5.2 at 3.7.
CUT_BEEPS = [1.0, 2.5, 3.7]


def cut_plan(room, video: bool) -> Plan:
    grid = layouts.plan_for_manifest(load_manifest(room).data, "grid", None, ["*"], [], False)
    everyone = grid.segment_at(2.5).tiles if video else []
    segments = [Segment(0.0, 2.0, 0.0, list(everyone)), Segment(2.0, 5.0, 3.5, list(everyone))]
    return Plan(grid.resolution, 5.0, segments, [AudioSpan(a.source, 0.0, 5.0) for a in grid.audio])


@pytest.mark.parametrize("video", [True, False], ids=["with-video", "audio-only"])
def test_beeps_follow_the_segments_room_time(room, tmp_path, video):
    out = tmp_path / "cut.mp4"
    audio_threads: set[str] = set()

    def progress(done: float, total: float) -> None:
        audio_threads.update(t.name for t in threading.enumerate() if t.name.startswith("audio"))

    render(load_manifest(room), cut_plan(room, video), out, progress=progress)
    assert streams(out).duration == pytest.approx(5.0, abs=0.1)
    assert beep_onsets(*audio_samples(out)) == pytest.approx(CUT_BEEPS, abs=0.02)
    assert audio_threads == {"audio-mixdown"}
    if video:
        frames = video_frames(out)
        flashes = sorted(flash_onsets(frames, *ALICE) + flash_onsets(frames, *CAROL))
        assert flashes == pytest.approx(CUT_BEEPS, abs=0.034)


def test_opus_read_without_the_resampler_gives_its_samples_bit_for_bit(room):
    manifest = load_manifest(room)
    (rec,) = [r for r in manifest.recordings.values() if r.track_name == "alice-mic"]
    resampler = av.AudioResampler(format="flt", layout="stereo", rate=SAMPLE_RATE)
    direct, resampled = [], []
    with av.open(str(manifest.media_path(rec.sid))) as container:
        for frame in container.decode(audio=0):
            samples = direct_samples(frame)
            assert samples is not None
            direct.append(np.broadcast_to(samples, (len(samples), CHANNELS)))
            resampled += [out.to_ndarray().reshape(-1, CHANNELS) for out in resampler.resample(frame)]
    assert np.array_equal(np.concatenate(direct), np.concatenate(resampled))
