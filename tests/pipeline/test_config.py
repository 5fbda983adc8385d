"""Settings refuse values roomreel cannot use, at start-up, with one clear line."""

import pytest

from pipeline.cli import main
from pipeline.config import ConfigError, Settings


@pytest.mark.parametrize(
    ("name", "value"),
    [("ROOMREEL_BROKER_URL", "kafka://127.0.0.1"), ("ROOMREEL_RECORDER", "in-process")],
)
def test_bad_values_are_refused(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_good_values_pass():
    for broker in ("memory", "redis://127.0.0.1:6379/0", "amqp://guest:guest@127.0.0.1:5672/"):
        assert Settings.from_env({"ROOMREEL_BROKER_URL": broker}).broker_url == broker
    assert Settings.from_env({"ROOMREEL_RECORDER": "external"}).recorder == "external"


def test_the_cli_reports_a_bad_setting_in_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("ROOMREEL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ROOMREEL_BROKER_URL", "kafka://127.0.0.1")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("roomreel: error: ROOMREEL_BROKER_URL") and "Traceback" not in err
