"""The bare-metal deployment files (#18.8) hold together: each systemd unit runs a roomreel
command the CLI takes, reads the sample configuration, and the proxies pass both WebSocket
paths to the address `serve` listens on. No systemd or proxy runs here, so they are read."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import pytest

from pipeline.cli import build_parser
from tests.docker.test_compose_file import variables_read_by_code

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
ENV_FILE = "/etc/roomreel/roomreel.env"


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


@pytest.mark.parametrize("path", UNITS, ids=[p.name for p in UNITS])
def test_each_unit_runs_a_command_the_cli_takes(path):
    service = unit(path)["Service"]
    assert service["User"] == "roomreel" and service["EnvironmentFile"] == ENV_FILE
    assert "ReadWritePaths" in service and service["ReadWritePaths"] == "/var/lib/roomreel"
    for key in ("ExecStart", "ExecStartPre"):
        if key not in service:
            continue
        argv = shlex.split(service[key].replace("%i", "standup"))
        assert argv[0] == "/opt/roomreel/bin/roomreel"
        build_parser().parse_args(argv[1:])  # exits (fails the test) on anything the CLI refuses
    assert unit(path)["Install"]["WantedBy"] == "multi-user.target"


def test_the_units_cover_serve_worker_and_recorder():
    commands = {shlex.split(unit(p)["Service"]["ExecStart"])[1] for p in UNITS}
    assert commands == {"serve", "worker", "recorder"}
    serve = unit(DEPLOY / "systemd" / "roomreel-serve.service")["Service"]["ExecStart"]
    assert "--host 127.0.0.1 --port 8080" in serve


def test_the_sample_configuration_sets_only_what_the_code_reads():
    names = set(re.findall(r"^(ROOMREEL_[A-Z0-9_]+)=", (DEPLOY / "roomreel.env").read_text(), re.M))
    assert {"ROOMREEL_PUBLIC_URL", "ROOMREEL_DATA_DIR", "ROOMREEL_TURN_SECRET"} <= names
    assert not names - variables_read_by_code()


def test_the_proxies_pass_both_websocket_paths_to_serve():
    nginx = (DEPLOY / "proxy" / "nginx.conf").read_text()
    assert re.search(r"location ~ \^/\(v1/signal\|signaling\)\$", nginx)
    assert "proxy_set_header Upgrade $http_upgrade" in nginx and "proxy_http_version 1.1" in nginx
    assert nginx.count("proxy_pass http://127.0.0.1:8080") >= 2
    assert "client_header_timeout" in nginx
    assert "reverse_proxy 127.0.0.1:8080" in (DEPLOY / "proxy" / "Caddyfile").read_text()
