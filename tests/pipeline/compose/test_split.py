"""A split render equals a single-pass render: duration, layout at sampled instants, A/V sync."""

import pytest

import layouts
from pipeline.compose import render
from pipeline.compose.split import plan_windows, render_split
from pipeline.media.manifest import load_manifest
from tests.media_checks import (
    audio_samples,
    beep_onsets,
    close,
    colour,
    flash_onsets,
    frame_at,
    streams,
    video_frames,
)

pytestmark = pytest.mark.media
POINTS = [(160, 120), (480, 120), (160, 360), (480, 360)]


@pytest.fixture(scope="module")
def outputs(room, tmp_path_factory):
    out = tmp_path_factory.mktemp("split")
    manifest = load_manifest(room)
    plan = layouts.plan_for_manifest(manifest.data, "grid", None, ["*"])
    single = out / "single.mp4"
    render(manifest, plan, single)
    split = render_split(manifest, plan, out / "split.mp4", window_seconds=2.5, processes=2)
    return plan, single, split


def test_windows_cover_the_output_on_the_frame_grid(outputs):
    plan = outputs[0]
    windows = plan_windows(plan, 30, 2.5)
    assert len(windows) == 3 and windows[0].start == 0 and windows[-1].end == pytest.approx(plan.duration)
    for a, b in zip(windows, windows[1:]):
        assert a.end == b.start and round(b.start * 30, 6) == round(b.start * 30)


def test_split_equals_single_pass(outputs):
    _, single, split = outputs
    one, many = streams(single), streams(split)
    assert (many.video_codec, many.audio_codec, many.width, many.height) == ("h264", "aac", 640, 480)
    assert many.duration == pytest.approx(one.duration, abs=1 / 30)
    frames_one, frames_many = video_frames(single), video_frames(split)
    assert len(frames_many) == pytest.approx(len(frames_one), abs=1)
    for t in (0.5, 2.4, 2.6, 3.5, 5.1, 6.5, 7.9):
        for point in POINTS:
            assert close(
                colour(frame_at(frames_many, t), *point), colour(frame_at(frames_one, t), *point), 12
            )
    flashes = sorted(sum((flash_onsets(frames_many, *p) for p in POINTS[:3]), []))
    assert flashes == pytest.approx([1.0, 2.6, 4.0, 5.2], abs=0.034)
    beeps = beep_onsets(*audio_samples(split))
    for flash in flashes:
        assert min(abs(b - flash) for b in beeps) <= 0.033
