"""The dashboard in real Chromium: sign in, see a completed room, preview a preset layout,
create a composition from it, watch it complete and play the result in a <video>."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

from pipeline.embedded import EmbeddedWorkers
from pipeline.importer import import_room
from pipeline.signing_key import deployment_storage
from tests.live_server import running_server

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

pytestmark = pytest.mark.media
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"]  # fmt: skip
DOCS_SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "dashboard.png"


@pytest.fixture
def dashboard_server(tmp_path, room):
    with running_server(tmp_path / "data") as server:
        storage = deployment_storage(server.settings, server.db, server.base)
        room_sid = import_room(server.db, storage, server.account_sid, room)
        workers = EmbeddedWorkers(server.db, storage, interval=0.2).start()
        try:
            yield server, room_sid
        finally:
            workers.stop()


def test_the_dashboard_needs_credentials(dashboard_server):
    server, _ = dashboard_server
    # The page is public (its sign-in form is the way in); its data is not.
    page = httpx.get(f"{server.base}/", follow_redirects=True)  # the server's address leads there
    assert page.status_code == 200 and 'id="login"' in page.text and str(page.url).endswith("/dashboard")
    assert "roomreel keys" in page.text  # where the credentials to type come from
    refused = httpx.get(f"{server.base}/dashboard/api/overview")
    assert refused.status_code == 401 and refused.json()["code"] == 20003
    wrong = httpx.get(f"{server.base}/dashboard/api/overview", auth=(server.account_sid, "nope"))
    assert wrong.status_code == 401


def test_compose_from_a_preset_and_play_it(dashboard_server, tmp_path):
    server, room_sid = dashboard_server
    errors: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{server.base}/dashboard/signin")

            page.fill("#user", server.account_sid)
            page.fill("#password", "not-the-token")
            page.click("#login button[type=submit]")
            sync_api.expect(page.locator("#login-error")).to_contain_text("Authentication Error")

            page.fill("#password", server.auth_token)
            page.click("#login button[type=submit]")
            room_row = page.locator(f"#rooms tr[data-sid='{room_sid}']")
            sync_api.expect(room_row).to_contain_text("completed")
            sync_api.expect(room_row).to_contain_text("alice")

            page.select_option("#compose-room", room_sid)
            page.select_option("#compose-preset", "grid")
            page.click("#preview-button")
            page.wait_for_function(
                "() => { const i = document.getElementById('preview');"
                " return !i.hidden && i.complete && i.naturalWidth === 1280 && i.naturalHeight === 720; }",
                timeout=15_000,
            )
            page.screenshot(path=str(tmp_path / "preview.png"), full_page=True)

            page.click("#compose-button")
            row = page.locator("#compositions tbody tr").first
            sync_api.expect(row).to_have_attribute("data-status", "completed", timeout=180_000)
            sid = row.get_attribute("data-sid")
            sync_api.expect(row.locator(".progress")).to_contain_text("100%")
            sync_api.expect(row.locator("img.thumb")).to_be_visible(timeout=30_000)

            row.locator("button.play").click()
            page.wait_for_function("() => document.getElementById('player').readyState >= 2", timeout=30_000)
            played = page.evaluate(
                "() => { const v = document.getElementById('player');"
                " return {sid: v.dataset.sid, duration: v.duration, width: v.videoWidth, height: v.videoHeight}; }"
            )
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
            if os.environ.get("ROOMREEL_UPDATE_DOCS_SCREENSHOT"):
                shutil.copy(tmp_path / "dashboard.png", DOCS_SCREENSHOT)
        finally:
            browser.close()
    assert not errors, errors
    assert played["sid"] == sid
    assert (played["width"], played["height"]) == (1280, 720)
    assert played["duration"] == pytest.approx(8, abs=0.5)
    composition = server.client().video.v1.compositions(sid).fetch()
    assert composition.status == "completed" and composition.format == "webm"
    assert composition.resolution == "1280x720"


def test_the_browsers_own_basic_credentials_are_not_used(dashboard_server):
    """Credentials the browser keeps from a Basic prompt would go with other sites' forms too;
    the dashboard signs in only with what is typed into its own form."""
    server, room_sid = dashboard_server
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            context = browser.new_context(
                http_credentials={"username": server.account_sid, "password": server.auth_token}
            )
            page = context.new_page()
            page.goto(f"{server.base}/dashboard")
            sync_api.expect(page.locator("#login")).to_be_visible()
            page.fill("#user", server.account_sid)
            page.fill("#password", server.auth_token)
            page.click("#login button[type=submit]")
            sync_api.expect(page.locator(f"#rooms tr[data-sid='{room_sid}']")).to_contain_text("completed")
            sync_api.expect(page.locator("#who")).to_have_text(server.account_sid)
        finally:
            browser.close()
