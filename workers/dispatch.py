"""The API's dispatcher when a broker is configured: send a message as soon as work exists."""

from __future__ import annotations


class DramatiqDispatcher:
    def composition(self, sid: str, priority: int = 0) -> None:
        from workers.actors import dispatch_composition

        dispatch_composition(sid, priority)
