"""Grid sizing and cell assignment over time (Twilio's `reuse` semantics)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .sources import Source


def max_concurrent(sources: Sequence[Source]) -> int:
    """The largest number of sources active at one instant; spans are half-open."""
    events = sorted([(s.start, 1) for s in sources] + [(s.end, -1) for s in sources])
    live = peak = 0
    for _, delta in events:  # ends sort before starts at the same instant
        live += delta
        peak = max(peak, live)
    return peak


def required_cells(sources: Sequence[Source], reuse: str, cells_excluded: Sequence[int]) -> int:
    needed = len(sources) if reuse == "none" else max_concurrent(sources)
    # An excluded cell inside the grid takes a place a source would have used;
    # one beyond it never enlarges the grid.
    for cell in sorted(set(cells_excluded)):
        if cell < needed:
            needed += 1
        else:
            break
    return needed


def grid_dimensions(max_rows: int | None, max_columns: int | None, cells: int) -> tuple[int, int]:
    """(rows, columns): near-square when unbounded, else filling the smaller bound first."""
    if not max_rows and not max_columns:
        columns = max(1, math.ceil(math.sqrt(cells)))
        rows = max(1, columns - 1)
        if rows * columns < cells:
            rows += 1
        return rows, columns
    rows_bound = max_rows or math.inf
    columns_bound = max_columns or math.inf
    if columns_bound <= rows_bound:
        columns = max(1, min(cells, int(columns_bound)))
        rows = max(1, min(math.ceil(cells / columns_bound), rows_bound))
        return int(rows), columns
    rows = max(1, min(cells, int(rows_bound)))
    columns = max(1, min(math.ceil(cells / rows_bound), columns_bound))
    return rows, int(columns)


@dataclass(frozen=True)
class Assignment:
    source: Source
    cell: int
    # Lower wins when two sources of one cell are live at once.
    priority: int


def assign_cells(
    sources: Sequence[Source], reuse: str, cell_count: int, cells_excluded: Sequence[int]
) -> list[Assignment]:
    """Give each source a cell, in order of start time; lowest free cell first."""
    excluded = set(cells_excluded)
    busy_until: dict[int, float] = {}  # cell -> end of the latest source it holds
    assigned: list[Assignment] = []
    ordered = sorted(sources, key=lambda s: (s.start, s.end, s.sid))
    for order, source in enumerate(ordered):
        usable = [c for c in range(cell_count) if c not in excluded]
        if reuse == "none":
            fresh = [c for c in usable if c not in busy_until]
            if not fresh:
                break  # every later source starts later still: none can be shown
            busy_until[fresh[0]] = source.end
            assigned.append(Assignment(source, fresh[0], order))
            continue
        free = [c for c in usable if busy_until.get(c, -math.inf) <= source.start]
        if free:
            cell = free[0]
        else:
            taken = [c for c in usable if c in busy_until]
            if not taken:
                continue
            cell = min(taken, key=lambda c: (busy_until[c], c))
        busy_until[cell] = max(busy_until.get(cell, -math.inf), source.end)
        priority = order if reuse == "show_oldest" else -order
        assigned.append(Assignment(source, cell, priority))
    return assigned
