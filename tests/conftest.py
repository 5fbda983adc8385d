import os
import uuid

import boto3
import psycopg
import pytest

from tests.services import ensure_postgres


@pytest.fixture(scope="session", autouse=True)
def own_data_home(tmp_path_factory):
    """Commands run without ROOMREEL_DATA_DIR use the per-user data directory: the suite's own,
    never the user's."""
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("xdg-data"))


@pytest.fixture(scope="session")
def postgres_server():
    return ensure_postgres()


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh database on the local server, dropped afterwards."""
    name = f"roomreel_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = postgres_server.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'roomreel.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def moto_endpoint():
    """moto's S3 server on 127.0.0.1, reached by boto3 over HTTP like AWS."""
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(moto_endpoint, request):
    name = f"rr-{uuid.uuid4().hex[:16]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=name)
    return name


# The slow tier (`make test` runs everything; `make check` leaves these out): files whose tests
# start processes, browsers, services or long media. Listed here, in one place, so the fast tier
# stays under two minutes as the suite grows.
SLOW_FILES = (
    "tests/workers/",
    "tests/pipeline/compose/test_memory.py",
    "tests/pipeline/test_reprocess.py",
    "tests/pipeline/recording/test_crash.py",
    "tests/pipeline/recording/test_restart.py",
    "tests/pipeline/recording/test_room_recording.py",
    "tests/pipeline/recording/test_chromium_recording.py",
    "tests/pipeline/recording/test_remote_recorder.py",
    "tests/pipeline/recording/test_rules.py",
    "tests/pipeline/recording/test_drain.py",
    "tests/pipeline/sfu/test_loss.py",
    "tests/pipeline/sfu/test_chromium.py",
    "tests/pipeline/sfu/test_bandwidth.py",
    "tests/pipeline/sfu/test_forwarding.py",
    "tests/pipeline/api/test_dashboard.py",
    "tests/pipeline/api/test_fuzz.py",
    "tests/pipeline/client/test_bot.py",
    "tests/pipeline/storage/test_s3_faults.py",
    "tests/pipeline/test_logs.py",
)


def pytest_collection_modifyitems(config, items):
    root = str(config.rootpath)
    for item in items:
        path = str(item.path).removeprefix(root + "/")
        if path.startswith(SLOW_FILES):
            item.add_marker(pytest.mark.slow)
