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
from pipeline.jobs.deliver import deliver
from pipeline.jobs.reconcile import due_deliveries


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
    hits: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length", 0)))
            hits.append(time.time())
            time.sleep(0.5)  # still answering while the other workers try
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/cb", hits
    httpd.shutdown()


def _delivery(db: Database, url: str) -> int:
    with db.session() as session:
        enqueue(session, "AC" + "1" * 32, url, "POST", {"StatusCallbackEvent": "composition-available"})
        session.flush()
        return session.query(CallbackDelivery).order_by(CallbackDelivery.id.desc()).first().id


def test_four_workers_sending_one_callback_post_it_once(db, slow_endpoint):
    url, hits = slow_endpoint
    delivery_id = _delivery(db, url)
    results: list[str] = []
    workers = [threading.Thread(target=lambda: results.append(deliver(db, delivery_id))) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert len(hits) == 1
    assert sorted(results) == ["delivered", "sending", "sending", "sending"]
    assert deliver(db, delivery_id) == "delivered" and len(hits) == 1


def test_a_delivery_left_sending_by_a_dead_worker_goes_out_after_its_lease(db, slow_endpoint):
    url, hits = slow_endpoint
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
