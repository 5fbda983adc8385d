"""Compositions run end to end: queue, render, media download, signed callbacks, failures."""

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from twilio.request_validator import RequestValidator

from pipeline.db.models import Composition
from pipeline.embedded import compose_pending, deliver_pending, requeue_orphans
from pipeline.importer import import_room
from pipeline.signing_key import deployment_storage
from tests.callback_receiver import Receiver
from tests.media_checks import streams

pytestmark = pytest.mark.media


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def storage(server):
    return deployment_storage(server.settings, server.db, server.base)


def test_composition_completes_with_signed_callbacks(server, room, storage, receiver):
    room_sid = import_room(server.db, storage, server.account_sid, room)
    client = server.client()
    comp = client.video.v1.compositions.create(
        room_sid=room_sid,
        video_layout={"grid": {"video_sources": ["*"]}},
        audio_sources=["*"],
        format="mp4",
        resolution="1280x720",
        status_callback=receiver.url,
    )
    assert compose_pending(server.db, storage) >= 1
    done = client.video.v1.compositions(comp.sid).fetch()
    assert done.status == "completed" and done.duration == 8 and done.size > 0 and done.bitrate > 0
    with server.http() as http:
        url = http.get(f"/v1/Compositions/{comp.sid}/Media").json()["redirect_to"]
    data = httpx.get(url).content
    path = server.settings.data_dir / f"{comp.sid}.mp4"
    path.write_bytes(data)
    info = streams(path)
    assert (info.video_codec, info.audio_codec, info.width, info.height) == ("h264", "aac", 1280, 720)

    deliver_pending(server.db)
    events = [form["StatusCallbackEvent"] for _, _, form in receiver.received]
    assert events[0] == "composition-enqueued" and events[1] == "composition-started"
    assert events[-1] == "composition-available" and "composition-progress" in events
    validator = RequestValidator(server.auth_token)
    for _, headers, form in receiver.received:
        assert validator.validate(receiver.url, form, headers["X-Twilio-Signature"])
        assert form["CompositionSid"] == comp.sid and form["AccountSid"] == server.account_sid
    available = receiver.received[-1][2]
    assert available["MediaUri"] == f"/v1/Compositions/{comp.sid}/Media"
    assert available["Duration"] == "8" and int(available["Size"]) == done.size
    progress = [int(f["PercentageDone"]) for _, _, f in receiver.received if "PercentageDone" in f]
    assert progress == sorted(progress) and all(0 < p < 100 for p in progress)


def test_corrupt_recording_fails_one_composition_and_not_the_queue(server, room, storage, receiver):
    from pipeline.db.models import Recording

    broken_room = import_room(server.db, storage, server.account_sid, room)
    good_room = import_room(server.db, storage, server.account_sid, room)
    with server.db.session() as session:
        rec = session.query(Recording).filter_by(room_sid=broken_room, track_name="bob-cam").one()
        storage.path(rec.media_key).write_bytes(b"\x00" * 1000)
        bad_sid = rec.sid
    client = server.client()
    bad = client.video.v1.compositions.create(
        room_sid=broken_room, video_layout="grid", status_callback=receiver.url
    )
    good = client.video.v1.compositions.create(room_sid=good_room, audio_sources=["alice-mic"])
    compose_pending(server.db, storage)
    failed = client.video.v1.compositions(bad.sid).fetch()
    assert failed.status == "failed"
    assert client.video.v1.compositions(good.sid).fetch().status == "completed"
    with server.db.session() as session:
        from pipeline.db.models import Composition

        row = session.get(Composition, bad.sid)
        assert bad_sid in row.error_message and "not a readable container" in row.error_message
        assert "Traceback" not in row.error_message
    deliver_pending(server.db)
    last = receiver.received[-1][2]
    assert last["StatusCallbackEvent"] == "composition-failed" and bad_sid in last["ErrorMessage"]


def test_composition_waits_for_its_room_to_end(server, storage):
    client = server.client()
    live = client.video.v1.rooms.create(unique_name="still-live")
    comp = client.video.v1.compositions.create(room_sid=live.sid, audio_sources=["*"])
    compose_pending(server.db, storage)
    assert client.video.v1.compositions(comp.sid).fetch().status == "enqueued"
    client.video.v1.rooms(live.sid).update(status="completed")
    compose_pending(server.db, storage)
    ended = client.video.v1.compositions(comp.sid).fetch()
    assert ended.status == "failed"  # the room recorded nothing; the reason is stored


def test_restart_requeues_orphaned_work(server, room, storage):
    from pipeline.db.models import Composition

    room_sid = import_room(server.db, storage, server.account_sid, room)
    comp = server.client().video.v1.compositions.create(room_sid=room_sid, audio_sources=["*"])
    with server.db.session() as session:
        session.get(Composition, comp.sid).status = "processing"  # its worker died
    assert requeue_orphans(server.db) >= 1
    compose_pending(server.db, storage)
    assert server.client().video.v1.compositions(comp.sid).fetch().status == "completed"


def test_callbacks_retry_on_server_errors(server):
    from pipeline.callbacks import enqueue
    from pipeline.db.models import CallbackDelivery
    from pipeline.jobs.deliver import deliver

    flaky = Receiver(statuses=[503, 502])
    try:
        with server.db.session() as session:
            enqueue(session, server.account_sid, flaky.url, "POST", {"StatusCallbackEvent": "room-ended"})
            session.flush()
            delivery_id = session.query(CallbackDelivery).order_by(CallbackDelivery.id.desc()).first().id
        assert deliver(server.db, delivery_id) == "pending"
        with server.db.session() as session:
            row = session.get(CallbackDelivery, delivery_id)
            assert (
                row.attempts == 1 and row.last_error == "HTTP 503" and row.next_attempt_at > row.date_created
            )
        assert deliver(server.db, delivery_id) == "pending"
        assert deliver(server.db, delivery_id) == "delivered"
        assert len(flaky.received) == 3
    finally:
        flaky.close()


def test_refused_connections_are_retried(server):
    from pipeline.callbacks import enqueue
    from pipeline.db.models import CallbackDelivery
    from pipeline.jobs.deliver import deliver
    from tests.pipeline.api.conftest import free_port

    with server.db.session() as session:
        enqueue(session, server.account_sid, f"http://127.0.0.1:{free_port()}/nobody", "POST", {"A": "1"})
        session.flush()
        delivery_id = session.query(CallbackDelivery).order_by(CallbackDelivery.id.desc()).first().id
    assert deliver(server.db, delivery_id) == "pending"
    with server.db.session() as session:
        assert "ConnectError" in session.get(CallbackDelivery, delivery_id).last_error


def test_composition_settings_send_the_output_to_the_customers_bucket(server, room, storage, moto_endpoint):
    import uuid

    import boto3

    bucket = f"customer-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket=bucket)
    client = server.client()
    credential = client.accounts.v1.credentials.aws.create(credentials="AKIACUSTOMER0000:customer-secret")
    client.video.v1.composition_settings().create(
        friendly_name="ours",
        aws_storage_enabled=True,
        aws_s3_url=f"{moto_endpoint}/{bucket}/compositions",
        aws_credentials_sid=credential.sid,
    )
    try:
        room_sid = import_room(server.db, storage, server.account_sid, room)
        comp = client.video.v1.compositions.create(room_sid=room_sid, audio_sources=["*"], format="mp4")
        compose_pending(server.db, storage)
        done = client.video.v1.compositions(comp.sid).fetch()
        assert done.status == "completed"
        key = f"compositions/{server.account_sid}/{comp.sid}.mp4"
        assert done.media_external_location == f"{moto_endpoint}/{bucket}/{key}"
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
        with server.http() as http:
            url = http.get(f"/v1/Compositions/{comp.sid}/Media", params={"Ttl": 120}).json()["redirect_to"]
        assert url.startswith(f"{moto_endpoint}/{bucket}/{key}") and "X-Amz-Expires=120" in url
        assert httpx.get(url).content[4:8] == b"ftyp"
    finally:
        client.video.v1.composition_settings().create(friendly_name="ours", aws_storage_enabled=False)


@pytest.fixture
def fake_s3():
    """An S3-shaped endpoint on 127.0.0.1 that refuses every upload and keeps each request's
    Authorization header: whose key signed it."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            seen.append(self.headers.get("authorization", ""))
            self.rfile.read(int(self.headers.get("content-length", 0) or 0))
            self.send_response(403)
            self.send_header("Content-Type", "application/xml")
            self.end_headers()
            self.wfile.write(b"<Error><Code>AccessDenied</Code><Message>no</Message></Error>")

        do_PUT = do_POST = do_GET = do_HEAD = _answer  # noqa: N815

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()


def _compose_into(server, storage, room, aws_s3_url: str, credentials_sid: str | None):
    client = server.client()
    client.video.v1.composition_settings().create(
        friendly_name="theirs",
        aws_storage_enabled=True,
        aws_s3_url=aws_s3_url,
        aws_credentials_sid=credentials_sid or "",  # "" clears an earlier test's credential
    )
    try:
        room_sid = import_room(server.db, storage, server.account_sid, room)
        comp = client.video.v1.compositions.create(room_sid=room_sid, audio_sources=["*"], format="mp4")
        for _ in range(10):  # each retry of an upload that failed runs again at once here
            compose_pending(server.db, storage)
            done = client.video.v1.compositions(comp.sid).fetch()
            if done.status in ("completed", "failed"):
                break
        with server.db.session() as session:
            return done, session.get(Composition, comp.sid).error_message or ""
    finally:
        client.video.v1.composition_settings().create(friendly_name="ours", aws_storage_enabled=False)


def test_a_customer_bucket_only_ever_sees_the_customers_key(server, room, storage, fake_s3):
    endpoint, seen = fake_s3
    credential = server.client().accounts.v1.credentials.aws.create(
        credentials="AKIACUSTOMER1111:their-secret"
    )
    _compose_into(server, storage, room, f"{endpoint}/their-bucket/out", credential.sid)
    assert seen, "the upload was never tried"
    assert all("Credential=AKIACUSTOMER1111/" in header for header in seen)
    assert not any(os.environ["AWS_ACCESS_KEY_ID"] + "/" in header for header in seen)


def test_without_a_credential_the_customer_bucket_is_never_contacted(server, room, storage, fake_s3):
    endpoint, seen = fake_s3
    done, error = _compose_into(server, storage, room, f"{endpoint}/their-bucket/out", None)
    assert done.status == "failed" and "AwsCredentialsSid" in error and seen == []


def test_a_bucket_endpoint_at_the_metadata_address_is_refused(server, room, storage):
    credential = server.client().accounts.v1.credentials.aws.create(credentials="AKIACUSTOMER2222:s")
    done, error = _compose_into(server, storage, room, "http://169.254.169.254/bucket/out", credential.sid)
    assert done.status == "failed" and "link-local" in error
