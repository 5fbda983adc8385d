"""Leaving broken recordings out of a plan makes a new plan: the caller's is not changed."""

from layouts import AudioSpan, Plan, Segment, Tile
from pipeline.compose.renderer import _without


def tile(source: str, x: int = 0) -> Tile:
    return Tile(source=source, region="grid", cell=0, x=x, y=0, width=640, height=360, z=0)


def test_broken_sources_leave_a_new_plan_and_the_given_one_unchanged():
    plan = Plan(
        "1280x720",
        10.0,
        [Segment(0.0, 10.0, 1.5, [tile("RTgood"), tile("RTbad", 640)])],
        [AudioSpan("RTbad", 0.0, 10.0), AudioSpan("RTgood", 0.0, 10.0)],
    )
    before = plan.to_dict()
    kept = _without(plan, {"RTbad"})
    assert plan.to_dict() == before
    assert [t.source for t in kept.segments[0].tiles] == ["RTgood"]
    assert [a.source for a in kept.audio] == ["RTgood"]
    assert kept.segments[0].room_start == 1.5 and kept.duration == 10.0
    assert _without(plan, set()) is plan
