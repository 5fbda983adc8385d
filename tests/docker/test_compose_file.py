"""docker/compose.yaml, docker/.env.example and docker/Dockerfile agree with each other and with
the code. No Docker engine is needed: the files are only read."""

import re
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.cluster.settings import ClusterSettings
from pipeline.config import Settings
from pipeline.db.engine import normalise_url
from pipeline.sfu import SfuSettings
from pipeline.sfu.rtc_adapter import parse_port_range
from pipeline.storage.s3 import S3Storage

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
# Compose's interpolation: `$$` (a literal `$`), `${NAME}`, `${NAME:-default}`, `${NAME:?error}`, `$NAME`.
TOKEN = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")
ROOMREEL_VARIABLE = re.compile(r"\bROOMREEL_[A-Z0-9_]+")
NODES = ("api", "api-2")  # the cluster's `roomreel serve` nodes
ROOMREEL_IMAGES = (*NODES, "worker", "migrate")
# Each node's UDP range in .env.example; the second is compose's own, never read by roomreel.
RTC_RANGES = {"api": "ROOMREEL_RTC_PORT_RANGE", "api-2": "ROOMREEL_RTC_PORT_RANGE_2"}
COMPOSE_ONLY = {"ROOMREEL_RTC_PORT_RANGE_2"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    """The assignments of .env.example (commented-out examples are not assignments)."""
    values = {}
    for line in (DOCKER / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f"not NAME=value: {line!r}"
            values[name.strip()] = value.strip()
    return values


def strings(node) -> list[str]:
    """Every string value in a loaded YAML document: what Compose interpolates."""
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return [node] if isinstance(node, str) else []


def references(text: str) -> set[str]:
    return {m.group(1) or m.group(4) for m in TOKEN.finditer(text) if m.group(0) != "$$"}


def interpolate(node, env: dict[str, str]):
    """`node` with the variables of `env` substituted, as Compose does."""
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(value, env) for value in node]
    if not isinstance(node, str):
        return node

    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, kind, word = match.group(1) or match.group(4), match.group(2) or "", match.group(3)
        value = env.get(name)
        unset = value is None or (kind.startswith(":") and value == "")
        if kind.endswith("?"):
            assert not unset, f"{name} is required: {word}"
        return word if unset and kind.endswith("-") else value or ""

    return TOKEN.sub(one, node)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of docker/Dockerfile, continuation lines joined, comments dropped."""
    lines = [
        line
        for line in (DOCKER / "Dockerfile").read_text(encoding="utf-8").splitlines()
        if not line.startswith("#")
    ]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if len(line.split()) > 1 else "")
        for line in joined.splitlines()
        if line.strip()
    ]


def make_rules(text: str) -> dict[str, tuple[list[str], list[str]]]:
    """Makefile rules: target -> (prerequisites, recipe lines)."""
    rules: dict[str, tuple[list[str], list[str]]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("\t") and current is not None:
            rules[current][1].append(line.strip())
        elif match := re.match(r"^([^\s:=#][^:=]*):(?!=)\s*(.*)$", line):
            current = match.group(1).strip()
            rules[current] = (match.group(2).split(), [])
        elif line.strip() and not line.startswith("#"):
            current = None
    return rules


def seconds(duration: str) -> float:
    """A Compose duration such as `10m`, `1m30s` or `45s`."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * units[u] for n, u in parts)


def caddy_upstreams(text: str) -> list[str]:
    """The upstreams of the Caddyfile's reverse_proxy directives (comments dropped)."""
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return [
        upstream
        for line in lines
        if line.startswith("reverse_proxy ")
        for upstream in line.split()[1:]
        if upstream != "{"
    ]


def variables_read_by_code() -> set[str]:
    """ROOMREEL_* names that appear as string literals in pipeline/ and workers/."""
    found = set()
    for package in ("pipeline", "workers"):
        for path in (ROOT / package).rglob("*.py"):
            found |= set(re.findall(r"[\"'](ROOMREEL_[A-Z0-9_]+)[\"']", path.read_text(encoding="utf-8")))
    return found


def test_services(compose):
    services = compose["services"]
    assert set(services) == {
        "api",
        "api-2",
        "lb",
        "worker",
        "migrate",
        "redis",
        "postgres",
        "minio",
        "createbuckets",
        "coturn",
    }
    for name in ROOMREEL_IMAGES:
        build = services[name]["build"]
        assert (DOCKER / build["context"] / build["dockerfile"]).resolve() == DOCKER / "Dockerfile"
        assert services[name]["image"] == services["api"]["image"]
    for name in ("redis", "postgres", "minio", "createbuckets", "coturn", "lb"):
        assert "build" not in services[name]
        image = services[name]["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name} image not pinned: {image}"


def test_nodes_serve_8080_behind_the_load_balancer(compose):
    services = compose["services"]
    for name in NODES:
        node = services[name]
        assert node["command"] == ["serve", "--host", "0.0.0.0", "--port", "8080"]
        assert "network_mode" not in node
        # Clients reach the nodes through lb only, which is why the nodes may take the client's
        # address from the X-Forwarded-For of whoever connects (uvicorn's FORWARDED_ALLOW_IPS).
        assert not any(str(port).split("/")[0].split(":")[-1] == "8080" for port in node["ports"])
        assert node["environment"]["FORWARDED_ALLOW_IPS"] == "*"
    lb = services["lb"]
    assert lb["image"].startswith("caddy:2.") and "alpine" in lb["image"]
    assert lb["ports"] == ["8080:8080"]
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in lb["volumes"]
    assert set(lb["depends_on"]) == set(NODES)
    assert lb["restart"] == "unless-stopped"


def test_caddyfile_balances_both_nodes(compose, env_example):
    text = (DOCKER / "Caddyfile").read_text(encoding="utf-8")
    assert re.search(r"^:8080 \{$", text, re.MULTILINE), "lb listens on the port it publishes"
    # Each node's own address on the compose network, the one the other nodes relay to.
    services = interpolate(compose["services"], env_example)
    nodes = {
        ClusterSettings.from_env(
            Path("/unused"), "redis://redis:6379/0", "", services[name]["environment"]
        ).node_url
        for name in NODES
    }
    assert {f"http://{upstream}" for upstream in caddy_upstreams(text)} == nodes
    directives = {
        line.split()[0]: line.split()[1:]
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }
    assert directives["lb_policy"] == ["round_robin"]
    assert seconds(directives["lb_try_duration"][0]) > 0, "a request to a node that is down goes to the other"
    assert seconds(directives["fail_duration"][0]) > 0
    assert directives["health_uri"] == ["/openapi.json"]  # the image's own health check
    # WebSocket upgrades and X-Forwarded-* are reverse_proxy's defaults: nothing may strip them,
    # and no timeout may cut a signaling socket that lasts the whole room.
    for directive in ("header_up", "header_down", "stream_timeout", "trusted_proxies"):
        assert directive not in directives, directive


def test_each_node_publishes_its_own_udp_range(compose, env_example):
    ranges = {}
    for name in NODES:
        node = compose["services"][name]
        # ICE binds 0.0.0.0 inside the node's port range and announces the host's address; the same
        # UDP range is published 1:1, so the announced ports are the ones that reach the container.
        published = interpolate(node["ports"], env_example)
        ports = parse_port_range(env_example[RTC_RANGES[name]])
        assert ports is not None and len(ports) > 1
        udp = f"{ports.start}-{ports.stop - 1}"
        assert published == [f"{udp}:{udp}/udp"]
        env = interpolate(node["environment"], env_example)
        assert env["ROOMREEL_RTC_HOSTS"] == "0.0.0.0"
        settings = SfuSettings.from_env({**env_example, **env})  # env wins over env_file, as in Compose
        assert settings.ports == ports
        assert settings.announce == {"0.0.0.0": env_example["ROOMREEL_RTC_ANNOUNCE"]}
        ranges[name] = set(ports)
    assert not ranges["api"] & ranges["api-2"], "two nodes on one host need two UDP ranges"
    assert any(str(p).split(":")[-2:] == ["9000", "9000"] for p in compose["services"]["minio"]["ports"])


def test_nodes_form_one_cluster(compose, env_example):
    services = interpolate(compose["services"], env_example)
    clusters, shared = {}, set()
    for name in NODES:
        env = {**env_example, **services[name]["environment"]}
        settings = Settings.from_env(env)
        clusters[name] = ClusterSettings.from_env(
            settings.data_dir, settings.broker_url, "http://unused:8080", env
        )
        assert clusters[name] is not None, f"{name} runs alone"
        shared.add(
            (settings.database_url, settings.broker_url, settings.storage_url, clusters[name].redis_url)
        )
    assert len(shared) == 1, "the nodes share PostgreSQL, Redis and the storage"
    assert clusters["api"].node_id != clusters["api-2"].node_id
    assert clusters["api"].node_url != clusters["api-2"].node_url
    for name in NODES:
        # Where the others relay to: the node's own service name on the compose network.
        assert clusters[name].node_url == f"http://{name}:8080"


def test_nodes_drain_before_they_are_killed(compose, env_example):
    services = interpolate(compose["services"], env_example)
    volumes = []
    for name in NODES:
        node = services[name]
        env = {**env_example, **node["environment"]}
        cluster = ClusterSettings.from_env(Path("/unused"), Settings.from_env(env).broker_url, "", env)
        # SIGTERM starts the drain; Docker kills the container at stop_grace_period.
        assert seconds(node["stop_grace_period"]) > cluster.drain_timeout >= 60
        data = [v for v in node["volumes"] if v.endswith(":/var/lib/roomreel")]
        assert len(data) == 1
        volumes.append(data[0].split(":")[0])
    # Each node's journals and node-id in a volume of its own.
    assert volumes == ["api-data", "api-2-data"] and set(volumes) <= set(compose["volumes"])


def test_worker_scales(compose):
    worker = compose["services"]["worker"]
    assert worker["command"][0] == "worker"
    for key in ("container_name", "ports", "network_mode", "volumes"):
        assert key not in worker, f"worker has {key}: `--scale worker=N` needs none"


def test_services_wait_for_healthy_dependencies(compose):
    services = compose["services"]
    for name in (*NODES, "worker"):
        depends = services[name]["depends_on"]
        for dependency in ("redis", "postgres", "minio"):
            assert depends[dependency]["condition"] == "service_healthy"
            assert services[dependency]["healthcheck"]["test"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["createbuckets"]["condition"] == "service_completed_successfully"
        assert services[name]["env_file"] == ".env"
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert {"postgres-data", "minio-data", "api-data", "api-2-data"} <= set(compose["volumes"])


def test_roomreel_urls_use_the_real_formats(compose, env_example):
    services = interpolate(compose["services"], env_example)
    for name in ROOMREEL_IMAGES:
        env = services[name]["environment"]
        settings = Settings.from_env({**env_example, **env})  # refuses a broker URL it cannot use
        assert settings.data_dir == Path("/var/lib/roomreel")
        assert normalise_url(settings.database_url).startswith("postgresql+psycopg://roomreel:")
        assert settings.broker_url.startswith("redis://:")
        storage = S3Storage(settings.storage_url)  # pipeline/storage/s3.py's URL format
        assert storage.bucket == env_example["MINIO_BUCKET"] and storage.prefix == ""
        assert storage.endpoint_url == (
            "http://minio:9000" if name not in NODES else env_example["MINIO_PUBLIC_URL"]
        )
        assert env["AWS_ACCESS_KEY_ID"] == env_example["MINIO_ROOT_USER"]
        assert env["AWS_SECRET_ACCESS_KEY"] == env_example["MINIO_ROOT_PASSWORD"]
    for name in (*NODES, "worker"):
        assert "@postgres:5432/" in services[name]["environment"]["ROOMREEL_DATABASE_URL"]


def test_every_compose_variable_is_in_env_example(compose, env_example):
    used = {name for text in strings(compose) for name in references(text)}
    assert {"POSTGRES_PASSWORD", "MINIO_PUBLIC_URL"} <= used
    assert not used - set(env_example), f"not set in docker/.env.example: {sorted(used - set(env_example))}"


def test_interpolation_follows_compose():
    assert references('a ${A} ${B:-x} ${C:?set C} $D "$$E" $${F}') == {"A", "B", "C", "D"}
    env = {"A": "1", "E": ""}
    assert interpolate(["${A}-${B:-two}-${E:-three}-${E-four}-$$A"], env) == ["1-two-three--$A"]
    with pytest.raises(AssertionError, match="B is required"):
        interpolate("${B:?set B}", env)


def test_roomreel_variables_are_read_by_the_code(compose):
    read = variables_read_by_code()
    assert {"ROOMREEL_DATABASE_URL", "ROOMREEL_RTC_PORT_RANGE"} <= read
    example = set(ROOMREEL_VARIABLE.findall((DOCKER / ".env.example").read_text(encoding="utf-8")))
    assert not example - read - COMPOSE_ONLY, f"not read by pipeline/ or workers/: {sorted(example - read)}"
    # Compose's own names are for compose.yaml and never reach roomreel under their own name.
    assert not COMPOSE_ONLY & read
    used = {name for text in strings(compose) for name in references(text)}
    assert COMPOSE_ONLY <= used
    in_compose = {name for s in compose["services"].values() for name in s.get("environment") or {}}
    in_compose = {name for name in in_compose if name.startswith("ROOMREEL_")}
    assert not in_compose - read, f"not read by pipeline/ or workers/: {sorted(in_compose - read)}"


def test_dockerfile_installs_the_tested_wheel():
    """The image installs the wheel that scripts/build_wheel.sh builds, the same build that
    tests/test_distribution.py installs and drives; never an editable checkout or the test tools."""
    script = "scripts/build_wheel.sh"
    instructions = dockerfile_instructions()
    stages = [args for op, args in instructions if op == "FROM"]
    assert len(stages) == 2 and stages[0].endswith(" AS wheel"), stages
    builder = instructions[: [i for i, (op, _) in enumerate(instructions) if op == "FROM"][1]]
    runtime = instructions[len(builder) :]
    assert any(op == "COPY" and args.split()[0] == script for op, args in builder)
    builds = [args for op, args in builder if op == "RUN" and f"bash {script}" in args]
    assert len(builds) == 1 and builds[0].split(script, 1)[1].split()[0] == "/dist"
    assert ("COPY", "--from=wheel /dist /dist") in runtime
    installs = [args for op, args in runtime if op == "RUN" and "pip install" in args]
    assert len(installs) == 1
    assert "/dist/roomreel-*.whl" in installs[0]
    assert " -e " not in installs[0] and "[dev]" not in installs[0] and "install.sh" not in installs[0]
    assert not any(op == "COPY" and args.split()[0] in ("pipeline", "migrations") for op, args in runtime)
    test = (ROOT / "tests" / "test_distribution.py").read_text(encoding="utf-8")
    assert '"build_wheel.sh"' in test


def test_dockerfile_runs_as_a_user_with_a_healthcheck():
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim-bookworm AS wheel")
    assert [args for op, args in instructions if op == "FROM"][-1] == "python:3.11-slim-bookworm"
    users = [args for op, args in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    healthchecks = [args for op, args in instructions if op == "HEALTHCHECK"]
    assert healthchecks and "NONE" not in healthchecks[-1].split()
    exposed = [port for op, args in instructions if op == "EXPOSE" for port in args.split()]
    assert "8080" in exposed or "8080/tcp" in exposed
    assert ("ENTRYPOINT", '["roomreel"]') in instructions
    assert ("CMD", '["serve", "--host", "0.0.0.0", "--port", "8080"]') in instructions
    # What the build copies in must exist.
    for op, args in instructions:
        if op == "COPY" and not args.startswith("--from="):
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), source


def test_make_rules_follow_prerequisites():
    text = "V := x\n$(S): a.toml\n\tV=1 bash tools/setup.sh\n\ttouch $(S)\ninstall: $(S)\n"
    rules = make_rules(text)
    assert rules["install"] == (["$(S)"], [])
    assert rules["$(S)"][1] == ["V=1 bash tools/setup.sh", "touch $(S)"]
    assert "V" not in rules


class _Answer(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(200 if self.path == "/openapi.json" else 503)
        self.end_headers()

    def log_message(self, *args):
        pass


def _healthcheck(url: str) -> int:
    command = [sys.executable, str(DOCKER / "healthcheck.py"), url]
    return subprocess.run(command, capture_output=True, timeout=30).returncode


def test_healthcheck_script():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert _healthcheck(f"{base}/openapi.json") == 0
        assert _healthcheck(f"{base}/other") == 1
    finally:
        server.shutdown()
        server.server_close()
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    assert _healthcheck(f"http://127.0.0.1:{closed}/openapi.json") == 1


def test_coturn_and_the_nodes_share_one_turn_secret(compose, env_example):
    services = compose["services"]
    command = interpolate(services["coturn"]["command"], env_example)
    assert "--use-auth-secret" in command and services["coturn"]["network_mode"] == "host"
    announce = env_example["ROOMREEL_RTC_ANNOUNCE"]
    assert f"--external-ip={announce}" in command
    for name in NODES:
        env = interpolate(services[name]["environment"], env_example)
        assert f"--static-auth-secret={env['ROOMREEL_TURN_SECRET']}" in command
        assert env["ROOMREEL_TURN_URLS"].startswith(f"turn:{announce}:3478")
