"""Frames that decode to the same pixels as the one before reuse its scaled picture (the same
object, so the compositor pastes nothing), and a changed frame never does."""

import av
import pytest

from pipeline.compose.timeline import IntervalSet
from pipeline.compose.video_source import VideoSource, same_picture
from pipeline.media.manifest import load_manifest

pytestmark = pytest.mark.media
CELL = (320, 240)
FPS = 15


def bob_cam(room):
    manifest = load_manifest(room)
    (rec,) = [r for r in manifest.recordings.values() if r.track_name == "bob-cam"]
    return manifest.media_path(rec.sid), rec


def test_same_picture_tells_identical_frames_from_changed_ones(room):
    path, _ = bob_cam(room)
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    assert same_picture(frames[0], frames[0])
    pairs = [same_picture(a, b) for a, b in zip(frames, frames[1:])]
    assert sum(pairs) >= 0.8 * len(pairs)  # a flat colour decodes the same, frame after frame
    flash = max(range(len(frames)), key=lambda i: frames[i].to_ndarray()[0].mean())
    assert not same_picture(frames[flash - 1], frames[flash])


def test_unchanged_frames_share_one_picture_and_the_flash_gets_its_own(room):
    path, rec = bob_cam(room)
    source = VideoSource(rec.sid, path, rec.start, {CELL}, IntervalSet([(rec.start, rec.end)]))
    source.begin()
    try:
        times = [1.5 + n / FPS for n in range(int(1.0 * FPS))]  # 1.5 s to 2.5 s: green, no flash
        pictures = [source.picture_at(t, CELL) for t in times]
        flash = source.picture_at(2.6 + 0.5 / FPS, CELL)
    finally:
        source.close()
    assert all(p is not None for p in pictures)
    assert len({id(p) for p in pictures}) <= 3
    assert flash is not None and all(flash is not p for p in pictures)
    assert flash.y.mean() > 200 > pictures[-1].y.mean()


def test_same_picture_ignores_row_padding(room):
    path, _ = bob_cam(room)
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    flash = max(range(len(frames)), key=lambda i: frames[i].to_ndarray()[0].mean())
    padded = [frames[i].reformat(width=322, height=242) for i in (flash - 1, flash - 1, flash)]
    assert padded[0].planes[0].line_size > padded[0].planes[0].width  # rows carry padding
    assert same_picture(padded[0], padded[1])
    assert not same_picture(padded[1], padded[2])
