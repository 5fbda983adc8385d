"""S3 that answers 500s and time-outs: uploads retry and succeed; S3 that stays down fails the
composition with a clear reason and keeps the rendered file for the retry."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from pipeline.storage import StorageError
from pipeline.storage.s3 import S3Storage
from tests.waiting import wait_for


class FaultyProxy:
    """An HTTP proxy in front of moto that fails the next requests as told."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "pass"
        self.remaining = 0
        self.failures = 0
        self.hung_up = 0  # timed-out requests the client gave up on
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                mode = proxy.take(self.command)
                if mode == "error":
                    self.send_response(500)
                    payload = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if mode == "timeout":
                    # No answer until the client gives up on its read timeout and hangs up
                    # (the read sees its close), however late it gets there; 30 s at most.
                    self.connection.settimeout(30)
                    try:
                        if self.connection.recv(1) == b"":
                            proxy.hung_up += 1
                    except OSError:
                        pass
                    self.close_connection = True
                    return
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
                }
                response = httpx.request(
                    self.command, proxy.upstream + self.path, content=body, headers=headers, timeout=30
                )
                self.send_response(response.status_code)
                for key, value in response.headers.items():
                    if key.lower() not in (
                        "content-length",
                        "transfer-encoding",
                        "connection",
                        "content-encoding",
                    ):
                        self.send_header(key, value)
                length = response.headers.get("content-length") if self.command == "HEAD" else None
                self.send_header("content-length", length or str(len(response.content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.content)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def fail(
        self, mode: str, count: int, methods: tuple[str, ...] = ("GET", "PUT", "POST", "DELETE", "HEAD")
    ) -> None:
        self.mode, self.remaining, self.methods = mode, count, methods

    def take(self, method: str) -> str:
        if self.mode != "pass" and self.remaining != 0 and method in self.methods:
            self.remaining -= 1
            self.failures += 1
            return self.mode
        return "pass"

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture
def proxy(moto_endpoint):
    p = FaultyProxy(moto_endpoint)
    yield p
    p.close()


def storage_via(proxy, bucket, retries=8):
    return S3Storage(
        f"s3://{bucket}/x?endpoint_url={proxy.url}&region=us-east-1&read_timeout=1&connect_timeout=1"
        f"&retries={retries}"
    )


@pytest.mark.parametrize("mode", ["error", "timeout"])
def test_uploads_retry_through_transient_faults(proxy, bucket, tmp_path, mode):
    source = tmp_path / "f.bin"
    source.write_bytes(b"x" * 200_000)
    storage = storage_via(proxy, bucket)
    proxy.fail(mode, 3)
    assert storage.put_file("a/b.bin", source) == 200_000
    assert proxy.failures == 3
    if mode == "timeout":
        # each one a read timeout on the client's side (its close may reach us a little later)
        wait_for(lambda: proxy.hung_up == 3, timeout=10, what="the client hanging up thrice")
    assert storage.get_file("a/b.bin", tmp_path / "back.bin").read_bytes() == source.read_bytes()


def test_s3_that_stays_down_is_a_clear_error(proxy, bucket, tmp_path):
    source = tmp_path / "f.bin"
    source.write_bytes(b"x" * 1000)
    proxy.fail("error", -1)
    with pytest.raises(StorageError, match="upload of a/b.bin to s3://.* failed"):
        storage_via(proxy, bucket, retries=2).put_file("a/b.bin", source)


@pytest.mark.media
def test_composition_fails_with_the_reason_and_keeps_its_output(proxy, bucket, tmp_path, room, database_url):
    from pipeline.db import Database
    from pipeline.db.models import Account, Composition, utcnow
    from pipeline.importer import import_room
    from pipeline.jobs.compose import MAX_ATTEMPTS, run_composition, spool_path
    from pipeline.priority import JobPriority

    db = Database(database_url)
    db.upgrade()
    with db.session() as session:
        session.add(Account(sid="AC" + "1" * 32, auth_token="t"))
    storage = storage_via(proxy, bucket, retries=2)
    room_sid = import_room(db, storage, "AC" + "1" * 32, room)
    with db.session() as session:
        session.add(
            Composition(
                sid="CJ" + "2" * 32,
                account_sid="AC" + "1" * 32,
                room_sid=room_sid,
                audio_sources=["*"],
                format="mp4",
                priority=JobPriority.API,
                date_created=utcnow(),
            )
        )
    proxy.fail("error", -1, methods=("PUT", "POST"))  # reads work, every upload fails
    spool = tmp_path / "spool"
    outcomes = [
        run_composition(db, storage, "CJ" + "2" * 32, "w1", spool).status for _ in range(MAX_ATTEMPTS)
    ]
    assert outcomes == ["retry"] * (MAX_ATTEMPTS - 1) + ["failed"]
    with db.session() as session:
        row = session.get(Composition, "CJ" + "2" * 32)
        assert (
            row.status == "failed" and "gave up after" in row.error_message and "s3://" in row.error_message
        )
    assert spool_path(spool, "CJ" + "2" * 32, "mp4").stat().st_size > 0  # still there for a retry
