from layouts.grid import grid_dimensions, required_cells
from layouts.sources import Source


def test_unbounded_grid_is_near_square():
    expected = {
        1: (1, 1),
        2: (1, 2),
        3: (2, 2),
        4: (2, 2),
        5: (2, 3),
        6: (2, 3),
        7: (3, 3),
        8: (3, 3),
        9: (3, 3),
        10: (3, 4),
        12: (3, 4),
        17: (4, 5),
        20: (4, 5),
    }
    for cells, dims in expected.items():
        assert grid_dimensions(None, None, cells) == dims, cells


def test_bounds_fill_the_smaller_bound_first():
    assert grid_dimensions(1, None, 3) == (1, 3)
    assert grid_dimensions(None, 1, 3) == (3, 1)
    assert grid_dimensions(1, 2, 3) == (1, 2)
    assert grid_dimensions(3, 3, 8) == (3, 3)
    assert grid_dimensions(5, 1, 7) == (5, 1)
    assert grid_dimensions(None, 2, 5) == (3, 2)


def test_required_cells_counts_concurrency_and_exclusions():
    s = [Source(f"RT{i}", "video", a, b) for i, (a, b) in enumerate([(0, 10), (5, 15), (12, 20)])]
    assert required_cells(s, "show_oldest", []) == 2
    assert required_cells(s, "none", []) == 3
    assert required_cells(s, "show_oldest", [0]) == 3
    assert required_cells(s, "show_oldest", [7]) == 2
