"""The browser room page and the dev-only token route it may use."""

import re


def test_the_room_page_and_its_script_are_served(server):
    with server.http() as http:
        page = http.get("/rooms/standup")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        scripts = re.findall(r'src="(/static/[^"]+\.js)"', page.text)
        assert scripts
        for src in scripts:
            assert http.get(src).status_code == 200
        assert http.get("/static/../config.py").status_code == 404


def test_dev_tokens_are_off_unless_the_flag_is_set(server):
    with server.http() as http:
        response = http.get("/dev/token", params={"identity": "alice", "room": "standup"})
    assert response.status_code == 404
    assert set(response.json()) == {"code", "message", "more_info", "status"}
