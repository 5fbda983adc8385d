"""How the API tells workers about new work. The database stays the source of truth: a lost
message only delays a job until the reconciler finds it."""

from __future__ import annotations

from typing import Protocol

from pipeline.priority import JobPriority


class Dispatcher(Protocol):
    def composition(self, sid: str, priority: int = JobPriority.API) -> None: ...


class DatabasePolling:
    """No messages: the embedded workers and the reconciler read work from the database."""

    def composition(self, sid: str, priority: int = JobPriority.API) -> None:
        return None
