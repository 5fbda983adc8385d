"""A bounded producer thread: decodes ahead of the compositor, never more than `depth` items."""

from __future__ import annotations

import queue
import threading

END = object()


class ReaderThread:
    def __init__(self, name: str, depth: int) -> None:
        self.error: str | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def begin(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()

    def produce(self) -> None:
        """Decode and `put` items; runs on the thread."""
        raise NotImplementedError

    def put(self, item: object) -> bool:
        """Queue an item; False when the reader is being closed and should stop."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def take(self) -> object:
        return self._queue.get()

    def poll(self) -> object | None:
        """The next item if one is ready, else None at once."""
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None

    def _main(self) -> None:
        try:
            self.produce()
        except Exception as exc:  # a decode failure ends this track only
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.error = f"decoding failed ({text})"
        finally:
            self.put(END)
