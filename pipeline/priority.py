"""A composition's priority: the one scale the database, the queues and the metrics share."""

from __future__ import annotations

from enum import IntEnum


class JobPriority(IntEnum):
    """`Composition.priority`; lower runs first (the embedded workers and the reconciler order by it)."""

    API = 0  # POST /v1/Compositions
    HOOK = 1  # a CompositionHook, when its room ends
    BATCH = 2  # roomreel reprocess

    @property
    def label(self) -> str:
        """The `priority` label of the roomreel_queue_depth gauge."""
        return self.name.lower()

    @property
    def actor_priority(self) -> int:
        """dramatiq's priority of the compose actor that runs it (a worker takes its prefetched
        messages lowest first): 0, 10, 20, leaving room for the split parts' actors between."""
        return 10 * self.value
