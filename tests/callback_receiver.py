"""A real HTTP endpoint on 127.0.0.1 that records the status callbacks it gets."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class Receiver:
    """A real HTTP endpoint on 127.0.0.1 that records the callbacks it gets."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        received = self.received = []
        replies = list(statuses or [])

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("content-length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                received.append((self.path, dict(self.headers), form))
                self.send_response(replies.pop(0) if replies else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/callbacks"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
