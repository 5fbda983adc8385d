"""Properties every plan keeps, whatever the sources and the layout."""

from hypothesis import given, settings
from hypothesis import strategies as st

import layouts
from layouts.sources import Source

times = st.integers(0, 60).map(float)


@st.composite
def rooms(draw):
    n = draw(st.integers(1, 10))
    out = []
    for i in range(n):
        start = draw(times)
        length = draw(st.integers(1, 30))
        kind = draw(st.sampled_from(["video", "video", "audio"]))
        out.append(Source(f"RT{i:032x}", kind, start, start + length, track_name=f"t{i}"))
    return out


@st.composite
def regions(draw):
    region = {"video_sources": draw(st.sampled_from([["*"], ["t1*", "t2"], ["t*"]]))}
    for key, values in [
        ("max_rows", st.integers(0, 4)),
        ("max_columns", st.integers(0, 4)),
        ("x_pos", st.integers(0, 600)),
        ("y_pos", st.integers(0, 400)),
        ("width", st.integers(0, 800)),
        ("height", st.integers(0, 600)),
        ("z_pos", st.integers(-5, 5)),
    ]:
        if draw(st.booleans()):
            region[key] = draw(values)
    region["reuse"] = draw(st.sampled_from(["none", "show_oldest", "show_newest"]))
    region["cells_excluded"] = draw(st.lists(st.integers(0, 8), max_size=3))
    return region


@settings(max_examples=150, deadline=None)
@given(
    rooms(),
    st.dictionaries(st.sampled_from(["a", "b", "c"]), regions(), min_size=1, max_size=3),
    st.booleans(),
)
def test_segments_tile_the_output_and_tiles_stay_on_canvas(sources, layout, trim):
    res = layouts.parse_resolution("640x480")
    try:
        plan = layouts.build_plan(layouts.parse_layout(layout, res), sources, res, ["*"], trim=trim)
    except layouts.LayoutError:  # a region larger than the canvas, or nothing selected
        return
    assert plan.segments[0].start == 0
    assert plan.segments[-1].end == plan.duration
    for a, b in zip(plan.segments, plan.segments[1:]):
        assert a.end == b.start
        assert a.end > a.start
    for seg in plan.segments:
        used = [(t.region, t.cell) for t in seg.tiles]
        assert len(used) == len(set(used)), "two tiles of a region share a cell"
        for tile in seg.tiles:
            assert tile.x >= 0 and tile.y >= 0
            assert tile.x + tile.width <= 640 and tile.y + tile.height <= 480
            assert tile.width > 0 and tile.height > 0
        zs = [t.z for t in seg.tiles]
        assert zs == sorted(zs)
    for span in plan.audio:
        assert 0 <= span.start < span.end <= plan.duration + 1e-6
