"""The wheel is a working roomreel: built from the checkout, installed into a fresh virtual
environment, and driven through every command the README shows, outside the checkout.

The fresh environment takes the wheel alone (`--no-deps`); its dependencies come from the test
environment through a path file, because downloading them again would take minutes. `pip check`
then proves the wheel's own requirements are met by what it sees.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import httpx
import pytest
from twilio.rest import Client

from tests.live_server import LocalHttpClient, free_port
from tests.synthetic_room import COLORS, Participant, make_room
from tests.waiting import wait_for

pytestmark = pytest.mark.slow
CHECKOUT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin directory of a fresh venv holding only the wheel."""
    work = tmp_path_factory.mktemp("wheel")
    # The same build as docker/Dockerfile's (without isolation: the test venv has setuptools).
    subprocess.run(
        ["bash", CHECKOUT / "scripts" / "build_wheel.sh", work, "--no-build-isolation"],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHON": sys.executable},
    )
    (wheel,) = work.glob("roomreel-*.whl")
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=False)
    bin_dir = env_dir / "bin"
    site = Path(
        subprocess.run(
            [bin_dir / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # The test environment's packages, after the wheel's own (the checkout is never on the path).
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", bin_dir / "python", "install", "-q", "--no-deps", wheel],
        check=True,
        capture_output=True,
    )
    return bin_dir


def run(bin_dir: Path, env: dict[str, str], *args: str, cwd: Path) -> str:
    result = subprocess.run(
        [bin_dir / "roomreel", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"roomreel {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result.stdout


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROOMREEL_", "PYTHON", "VIRTUAL_ENV"))}
    return {**env, "ROOMREEL_DATA_DIR": str(data_dir), **extra}


def test_the_wheel_carries_its_code_migrations_and_data(installed):
    python = installed / "python"
    where = subprocess.run(
        [python, "-c", "import pipeline, layouts, workers; print(pipeline.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd="/",
    ).stdout
    assert "site-packages" in where and str(CHECKOUT) not in where
    check = subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    listing = subprocess.run(
        [python, "-m", "pip", "show", "-f", "roomreel"], capture_output=True, text=True, cwd="/"
    ).stdout
    if "Files:" not in listing:  # no pip inside the fresh venv: ask the outer one
        listing = subprocess.run(
            [sys.executable, "-m", "pip", "--python", python, "show", "-f", "roomreel"],
            capture_output=True,
            text=True,
        ).stdout
    shipped = {line.strip() for line in listing.splitlines()}
    for source in CHECKOUT.glob("migrations/versions/*.py"):
        assert f"pipeline/db/migrations/versions/{source.name}" in shipped
    for name in ("pipeline/db/migrations/env.py", "pipeline/db/migrations/script.py.mako"):
        assert name in shipped
    for folder, package in (
        ("pipeline/api/static", "pipeline/api/static"),
        ("layouts/presets", "layouts/presets"),
    ):
        for source in (CHECKOUT / folder).iterdir():
            assert f"{package}/{source.name}" in shipped
    for source in CHECKOUT.glob("*/**/*.py"):
        relative = source.relative_to(CHECKOUT).as_posix()
        if relative.split("/")[0] in ("pipeline", "layouts", "workers"):
            assert relative in shipped, relative


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def test_every_readme_command_runs_from_the_wheel(installed, tmp_path, database, request):
    extra = {}
    if database == "postgresql":
        extra["ROOMREEL_DATABASE_URL"] = request.getfixturevalue("postgres_url")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = environment(tmp_path / "data", ROOMREEL_PUBLIC_URL=base, **extra)
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()

    assert "up to date" in run(installed, env, "db", "upgrade", cwd=cwd)
    key = json.loads(run(installed, env, "keys", "create", "--friendly-name", "wheel", cwd=cwd))
    assert key["sid"].startswith("SK") and key["account_sid"].startswith("AC")
    token = run(installed, env, "token", "--identity", "alice", "--room", "standup", cwd=cwd).strip()
    assert token.count(".") == 2

    room_dir = tmp_path / "room"
    make_room(room_dir, [Participant("alice", COLORS[0], 0.0, 3.0), Participant("bob", COLORS[1], 0.5, 3.0)], fps=10, duration=3.0)  # fmt: skip
    room_sid = run(installed, env, "import", str(room_dir), cwd=cwd).strip()
    assert room_sid.startswith("RM")
    assert "grid" in run(installed, env, "layout", "presets", cwd=cwd)
    preview = tmp_path / "preview.png"
    run(installed, env, "layout", "preview", "--layout", "grid", "--sources", str(room_dir / "room.json"),
        "--resolution", "320x240", "--at", "1", "--out", str(preview), cwd=cwd)  # fmt: skip
    assert preview.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = tmp_path / "room.mp4"
    run(installed, env, "compose", str(room_dir), "--layout", "grid", "--audio-sources", "*",
        "--resolution", "320x240", "--out", str(out), "--quiet", cwd=cwd)  # fmt: skip
    import av

    with av.open(str(out)) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
        assert float(container.duration) / 1_000_000 == pytest.approx(3.0, abs=0.5)

    server = subprocess.Popen(
        [installed / "roomreel", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:

        def up() -> bool:
            try:
                return httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 60, "the wheel's roomreel serve", every=0.2)
        client = Client(key["sid"], key["secret"], key["account_sid"], http_client=LocalHttpClient(base))
        assert client.video.v1.rooms(room_sid).fetch().status == "completed"
        assert len(client.video.v1.recordings.list(grouping_sid=[room_sid])) == 4
        assert client.video.v1.rooms.create(unique_name="from-the-wheel").status == "in-progress"
        status = subprocess.run(
            [installed / "roomreel", "status", "--json"], env=env, cwd=cwd, capture_output=True, text=True
        )
        checks = {c["part"]: c for c in json.loads(status.stdout)}
        assert status.returncode == 0, status.stdout
        assert all(c["ok"] for c in checks.values()), checks
    finally:
        server.terminate()
        server.wait(30)
