"""Shorter GIL turns while a composition renders.

The main loop spends most of its time in x264 with the GIL released; each time it wants the GIL
back it may wait a whole switch interval (5 ms by default) behind a reader's or the audio
thread's Python code, at a 33 ms tick. Measured on 2 cores, alternated: 1 ms turns made the
flat, 16-participant and presentation rooms 8-15% faster in wall time, at no more CPU.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SWITCH_INTERVAL = 0.001

_lock = threading.Lock()
_renders = 0
_saved = 0.0


@contextmanager
def short_gil_turns() -> Iterator[None]:
    """The process's switch interval at most SWITCH_INTERVAL while any render runs, then as it was
    (the setting is process-wide, so overlapping renders share one save and restore)."""
    global _renders, _saved
    with _lock:
        if _renders == 0:
            _saved = sys.getswitchinterval()
            sys.setswitchinterval(min(_saved, SWITCH_INTERVAL))
        _renders += 1
    try:
        yield
    finally:
        with _lock:
            _renders -= 1
            if _renders == 0:
                sys.setswitchinterval(_saved)
