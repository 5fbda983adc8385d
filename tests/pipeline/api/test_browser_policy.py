"""No state change on behalf of another site: a page elsewhere that posts a form to roomreel,
in a browser holding the operator's Basic credentials, changes nothing. Server-side clients
(the official twilio library) send no browser headers and are untouched."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.live_server import free_port

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip


def test_cross_site_state_changes_are_refused(server):
    room = server.client().video.v1.rooms.create(unique_name="csrf-headers")
    with server.http() as http:
        for headers in (
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site"},
            {"Origin": "http://evil.example"},
            {"Origin": "null"},
            {"Origin": server.base.replace("127.0.0.1", "localhost")},
        ):
            refused = http.post(f"/v1/Rooms/{room.sid}", data={"Status": "completed"}, headers=headers)
            assert refused.status_code == 403, headers
            body = refused.json()
            assert body["code"] == 20403 and body["status"] == 403 and "Cross-site" in body["message"]
        # Reading stays open to any caller with credentials (another site cannot read the answer).
        assert http.get(f"/v1/Rooms/{room.sid}", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200
        assert server.client().video.v1.rooms(room.sid).fetch().status == "in-progress"
        # The server's own pages may change state.
        own = {"Origin": server.base, "Sec-Fetch-Site": "same-origin"}
        assert http.post("/v1/Rooms", data={"UniqueName": "csrf-own"}, headers=own).status_code == 201
        assert http.post("/v1/Rooms", data={"UniqueName": "csrf-origin"}, headers={"Origin": server.base})
    # The official client sends neither header.
    assert server.client().video.v1.rooms(room.sid).update(status="completed").status == "completed"


def test_pages_carry_the_security_headers(server):
    for path in ("/dashboard", "/dashboard/signin", "/rooms/any", "/v1/Rooms"):
        response = httpx.get(f"{server.base}{path}", auth=(server.account_sid, server.auth_token))
        assert response.status_code == 200, path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"


def test_the_dashboard_never_asks_the_browser_to_keep_credentials(server):
    page = httpx.get(f"{server.base}/dashboard")
    assert page.status_code == 200 and "www-authenticate" not in page.headers
    assert 'id="login"' in page.text
    dashboard_call = httpx.get(
        f"{server.base}/dashboard/api/overview", headers={"X-Roomreel-Client": "dashboard"}
    )
    assert dashboard_call.status_code == 401 and "www-authenticate" not in dashboard_call.headers


class AttackerPage(BaseHTTPRequestHandler):
    """Another site's page: on load it posts forms to roomreel in hidden frames."""

    target = ""
    room_sid = ""

    def do_GET(self) -> None:  # noqa: N802
        forms = [
            (f"{self.target}/v1/Rooms/{self.room_sid}", {"Status": "completed"}),
            (f"{self.target}/v1/CompositionSettings/Default",
             {"FriendlyName": "evil", "AwsS3Url": "https://evil.example/bucket", "AwsStorageEnabled": "true"}),
        ]  # fmt: skip
        html = ["<!doctype html><html><body>"]
        for i, (action, fields) in enumerate(forms):
            inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
            html.append(f'<iframe name="f{i}"></iframe>')
            html.append(f'<form id="form{i}" method="POST" action="{action}" target="f{i}">{inputs}</form>')
        html.append("<script>for (const f of document.forms) f.submit();</script></body></html>")
        body = "".join(html).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.mark.media
def test_a_form_on_another_site_changes_nothing_in_chromium(server):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    client = server.client()
    room = client.video.v1.rooms.create(unique_name="csrf-browser")
    before = client.video.v1.composition_settings().fetch()
    port = free_port()
    AttackerPage.target, AttackerPage.room_sid = server.base, room.sid
    # localhost and 127.0.0.1 are different sites to a browser.
    attacker = ThreadingHTTPServer(("127.0.0.1", port), AttackerPage)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    answers: list[int] = []
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
            try:
                context = browser.new_context(
                    http_credentials={"username": server.account_sid, "password": server.auth_token}
                )
                page = context.new_page()
                # The browser holds the operator's credentials, as after a Basic prompt.
                page.goto(f"{server.base}/v1/Rooms")
                page.on(
                    "response",
                    lambda r: answers.append(r.status) if r.url.startswith(server.base) else None,
                )
                page.goto(f"http://localhost:{port}/")
                for _ in range(200):  # both forms answered, or 20 s
                    if len(answers) >= 2:
                        break
                    # A poll, not a fixed wait: Playwright's sync API delivers the "response"
                    # events only while it is waiting, which a time.sleep would not do.
                    page.wait_for_timeout(100)
            finally:
                browser.close()
    finally:
        attacker.shutdown()
    assert answers.count(403) == 2, answers
    assert client.video.v1.rooms(room.sid).fetch().status == "in-progress"
    after = client.video.v1.composition_settings().fetch()
    assert (after.friendly_name, after.aws_s3_url) == (before.friendly_name, before.aws_s3_url)
