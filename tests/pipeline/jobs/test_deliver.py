"""A status callback goes out once, however many workers are told to send it at the same time,
and a delivery whose worker died is sent again once its lease runs out."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.callbacks import enqueue
from pipeline.db import Database
from pipeline.db.models import Account, CallbackDelivery, utcnow
from pipeline.embedded import CallbackLanes
from pipeline.jobs.deliver import deliver
from pipeline.jobs.reconcile import due_deliveries
from pipeline.outbound_policy import OutboundPolicy
from tests.waiting import wait_for


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    database.upgrade()
    with database.session() as session:
        session.add(Account(sid="AC" + "1" * 32, auth_token="t" * 32))
    yield database
    database.engine.dispose()


@pytest.fixture
def slow_endpoint():
    """An endpoint that answers only once `answer` is set (or after 30 s)."""
    hits: list[float] = []
    answer = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length", 0)))
            hits.append(time.time())
            answer.wait(30)  # still answering while the other workers try
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/cb", hits, answer
    answer.set()
    httpd.shutdown()


def _delivery(db: Database, url: str) -> int:
    with db.session() as session:
        enqueue(session, "AC" + "1" * 32, url, "POST", {"StatusCallbackEvent": "composition-available"})
        session.flush()
        return session.query(CallbackDelivery).order_by(CallbackDelivery.id.desc()).first().id


def test_four_workers_sending_one_callback_post_it_once(db, slow_endpoint):
    url, hits, answer = slow_endpoint
    delivery_id = _delivery(db, url)
    results: list[str] = []
    workers = [threading.Thread(target=lambda: results.append(deliver(db, delivery_id))) for _ in range(4)]
    for worker in workers:
        worker.start()
    # The endpoint answers only once the other three workers have found the delivery taken.
    wait_for(lambda: len(results) == 3, timeout=30, what="three workers finding the delivery sending")
    answer.set()
    for worker in workers:
        worker.join(30)
    assert len(hits) == 1
    assert sorted(results) == ["delivered", "sending", "sending", "sending"]
    assert deliver(db, delivery_id) == "delivered" and len(hits) == 1


def test_a_delivery_left_sending_by_a_dead_worker_goes_out_after_its_lease(db, slow_endpoint):
    url, hits, answer = slow_endpoint
    answer.set()  # one worker at a time here: no need to hold the answer
    delivery_id = _delivery(db, url)
    with db.session() as session:
        row = session.get(CallbackDelivery, delivery_id)
        row.status, row.next_attempt_at = "sending", utcnow() + timedelta(seconds=30)  # claimed, then killed
    assert delivery_id not in due_deliveries(db) and deliver(db, delivery_id) == "sending"
    with db.session() as session:
        session.get(CallbackDelivery, delivery_id).next_attempt_at = utcnow() - timedelta(seconds=1)
    assert delivery_id in due_deliveries(db)
    assert deliver(db, delivery_id) == "delivered" and len(hits) == 1


@pytest.fixture
def redirecting_endpoint():
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/cb"
    httpd.shutdown()


def test_a_redirect_is_a_failure_not_a_delivery(db, redirecting_endpoint):
    sid = _delivery(db, redirecting_endpoint)
    assert deliver(db, sid) == "failed"
    with db.session() as session:
        delivery = session.get(CallbackDelivery, sid)
        assert delivery.attempts == 1 and "redirect" in delivery.last_error


def test_a_scheme_that_can_never_work_is_not_retried(db):
    sid = _delivery(db, "gopher://127.0.0.1/cb")
    assert deliver(db, sid) == "failed"


@pytest.fixture
def counting_endpoint():
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            hits.append(self.rfile.read(int(self.headers.get("content-length", 0))).decode())
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1], hits
    httpd.shutdown()


PUBLIC = "https://video.example.com"


def _last_error(db: Database, delivery_id: int) -> str:
    with db.session() as session:
        return session.get(CallbackDelivery, delivery_id).last_error or ""


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
def test_a_deployment_with_a_public_address_never_calls_back_to_loopback(db, counting_endpoint, host):
    port, hits = counting_endpoint
    delivery_id = _delivery(db, f"http://{host}:{port}/cb")
    assert deliver(db, delivery_id, OutboundPolicy.parse("", PUBLIC)) == "failed"
    assert hits == [] and "loopback address" in _last_error(db, delivery_id)
    assert "ROOMREEL_CALLBACK_ALLOW" in _last_error(db, delivery_id)


def test_roomreel_callback_allow_lets_an_operator_allow_loopback(db, counting_endpoint):
    port, hits = counting_endpoint
    for allow in ("127.0.0.0/8", "localhost"):
        delivery_id = _delivery(db, f"http://localhost:{port}/cb")
        assert deliver(db, delivery_id, OutboundPolicy.parse(allow, PUBLIC)) == "delivered"
    assert len(hits) == 2 and "StatusCallbackEvent=composition-available" in hits[0]


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/cb", "http://0.0.0.0:9/cb"]
)
def test_metadata_and_link_local_targets_are_refused_even_on_a_developers_machine(db, url):
    delivery_id = _delivery(db, url)
    assert deliver(db, delivery_id, OutboundPolicy.parse("", "http://127.0.0.1:8080")) == "failed"
    assert "refused" in _last_error(db, delivery_id)


@pytest.fixture
def dripping_endpoint():
    """Answers a byte every 0.5 s for as long as the test lasts: per-read timeouts never fire."""
    done = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length", 0)))
            for byte in b"HTTP/1.1 204 No Content\r\n" * 1000:
                if done.wait(0.5):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/cb"
    done.set()
    httpd.shutdown()


def test_a_dripping_target_gets_one_deadline_for_the_whole_attempt(db, dripping_endpoint):
    delivery_id = _delivery(db, dripping_endpoint)
    started = time.monotonic()
    assert deliver(db, delivery_id, deadline=2.0) == "pending"
    assert time.monotonic() - started < 4.0
    assert "Timeout" in _last_error(db, delivery_id)


def test_a_dripping_target_does_not_delay_another_targets_callback(db, dripping_endpoint, counting_endpoint):
    port, hits = counting_endpoint
    _delivery(db, dripping_endpoint)
    _delivery(db, f"http://127.0.0.1:{port}/healthy")
    lanes = CallbackLanes(db)
    try:
        started = time.monotonic()
        lanes.tick()
        wait_for(lambda: hits, timeout=5, what="the healthy target's callback")
        assert time.monotonic() - started < 2.0  # the dripping one holds its lane for 15 s
        assert lanes.tick() == 0  # its lane is still busy; the delivery is not sent twice
    finally:
        lanes.close()
