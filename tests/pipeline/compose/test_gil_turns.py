"""A render shortens the GIL's switch interval while it runs and gives the old one back after,
also when it fails."""

import sys

import pytest

import layouts
from pipeline.compose import ComposeError, render
from pipeline.compose.gil_turns import SWITCH_INTERVAL
from pipeline.media.manifest import load_manifest

pytestmark = pytest.mark.media


def test_switch_interval_is_short_during_a_render_and_restored_after(room, tmp_path):
    manifest = load_manifest(room)
    plan = layouts.plan_for_manifest(manifest.data, "grid", None, ["*"], [])
    before = sys.getswitchinterval()
    seen: list[float] = []

    def progress(done: float, total: float) -> None:
        seen.append(sys.getswitchinterval())

    render(manifest, plan, tmp_path / "out.mp4", progress=progress)
    assert seen and max(seen) <= SWITCH_INTERVAL
    assert sys.getswitchinterval() == before

    def fail(done: float, total: float) -> None:
        raise ComposeError("stopped")

    with pytest.raises(ComposeError):
        render(manifest, plan, tmp_path / "failed.mp4", progress=fail)
    assert sys.getswitchinterval() == before
    assert not (tmp_path / "failed.mp4").exists()
