"""Rendered output, measured: streams, durations, colours per cell, black while disabled, A/V sync."""

import pytest

import layouts
from pipeline.compose import render
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
from tests.pipeline.conftest import BLUE, GREEN, RED

pytestmark = pytest.mark.media
BLACK = (0, 0, 0)
# 640x480 canvas, three concurrent sources: a 2x2 grid of 320x240 cells.
ALICE, BOB, CAROL, EMPTY = (160, 120), (480, 120), (160, 360), (480, 360)


def compose(room, out, layout="grid", audio=("*",), fmt="mp4", resolution=None, trim=True):
    manifest = load_manifest(room)
    plan = layouts.plan_for_manifest(manifest.data, layout, resolution, list(audio), [], trim)
    return render(manifest, plan, out, fmt)


@pytest.fixture(scope="module")
def grid_mp4(room, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "grid.mp4"
    compose(room, out)
    return out


@pytest.fixture(scope="module")
def grid_frames(grid_mp4):
    return video_frames(grid_mp4)


def test_mp4_streams_and_duration(grid_mp4):
    info = streams(grid_mp4)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.width, info.height) == (640, 480)
    assert info.duration == pytest.approx(8.0, abs=0.1)


def test_each_cell_shows_its_participant(grid_frames):
    at = frame_at(grid_frames, 2.2)
    assert close(colour(at, *ALICE), RED)
    assert close(colour(at, *BOB), GREEN)
    assert close(colour(at, *CAROL), BLUE)
    assert close(colour(at, *EMPTY), BLACK, 20)


def test_cells_are_black_before_a_participant_joins(grid_frames):
    at = frame_at(grid_frames, 0.5)
    assert close(colour(at, *ALICE), RED)
    assert close(colour(at, *BOB), BLACK, 20)
    assert close(colour(at, *CAROL), BLACK, 20)


def test_disabled_video_is_black_not_frozen(grid_frames):
    assert close(colour(frame_at(grid_frames, 2.9), *BOB), GREEN)
    assert close(colour(frame_at(grid_frames, 3.2), *BOB), BLACK, 20)
    assert close(colour(frame_at(grid_frames, 4.3), *BOB), BLACK, 20)
    assert close(colour(frame_at(grid_frames, 4.8), *BOB), GREEN)


def test_resolution_change_is_refitted_with_aspect_kept(grid_frames):
    before, after = frame_at(grid_frames, 4.5), frame_at(grid_frames, 6.5)
    assert close(colour(before, 160, 10), RED)  # 4:3 fills the 4:3 cell
    assert close(colour(after, 160, 10), BLACK, 20)  # 16:9 is letterboxed
    assert close(colour(after, *ALICE), RED)


def test_cells_empty_after_participants_leave(grid_frames):
    at = frame_at(grid_frames, 7.5)
    assert close(colour(at, *ALICE), RED)
    assert close(colour(at, *BOB), BLACK, 20)


def test_flash_and_beep_line_up_within_a_frame(grid_mp4, grid_frames):
    pcm, rate = audio_samples(grid_mp4)
    beeps = beep_onsets(pcm, rate)
    flashes = sorted(
        flash_onsets(grid_frames, *ALICE)
        + flash_onsets(grid_frames, *BOB)
        + flash_onsets(grid_frames, *CAROL)
    )
    assert flashes == pytest.approx([1.0, 2.6, 4.0, 5.2], abs=0.034)
    assert len(beeps) == 4
    for flash in flashes:
        nearest = min(beeps, key=lambda b: abs(b - flash))
        assert abs(nearest - flash) <= 0.033, (flash, nearest)


def test_mixed_audio_never_clips(grid_mp4):
    pcm, _ = audio_samples(grid_mp4)
    assert float(abs(pcm).max()) <= 1.0


def test_webm_is_vp8_and_opus(room, tmp_path):
    out = tmp_path / "grid.webm"
    compose(room, out, fmt="webm")
    info = streams(out)
    assert (info.video_codec, info.audio_codec) == ("vp8", "opus")
    assert info.duration == pytest.approx(8.0, abs=0.1)
    at = frame_at(video_frames(out), 2.2)
    assert close(colour(at, *CAROL), BLUE, 32)


def test_audio_only_composition(room, tmp_path):
    out = tmp_path / "audio.mp4"
    compose(room, out, layout=None, audio=["alice-mic"])
    info = streams(out)
    assert info.video_codec is None and info.audio_codec == "aac"
    assert info.duration == pytest.approx(8.0, abs=0.1)
    pcm, rate = audio_samples(out)
    assert [round(b, 2) for b in beep_onsets(pcm, rate)] == pytest.approx([1.0, 4.0], abs=0.02)


def test_video_only_composition_with_pip(room, tmp_path):
    out = tmp_path / "pip.mp4"
    layout = {
        "main": {"z_pos": 1, "video_sources": ["alice-cam"]},
        "pip": {
            "z_pos": 2,
            "x_pos": 400,
            "y_pos": 20,
            "width": 200,
            "height": 150,
            "video_sources": ["bob*"],
        },
    }
    compose(room, out, layout=layout, audio=[])
    info = streams(out)
    assert info.audio_codec is None and info.video_codec == "h264"
    at = frame_at(video_frames(out), 2.2)
    assert close(colour(at, 500, 95), GREEN)  # inset over the main video
    assert close(colour(at, 100, 240), RED)


def test_no_trim_keeps_the_room_length(room, tmp_path):
    out = tmp_path / "full.mp4"
    compose(room, out, trim=False)
    assert streams(out).duration == pytest.approx(10.0, abs=0.1)


def test_trim_cuts_leading_silence(room, tmp_path):
    out = tmp_path / "carol.mp4"
    compose(room, out, layout={"one": {"video_sources": ["carol-cam"]}}, audio=["carol-mic"])
    frames = video_frames(out)
    assert streams(out).duration == pytest.approx(4.0, abs=0.1)
    assert flash_onsets(frames, 320, 240) == pytest.approx([3.2], abs=0.034)
