"""Run the Alembic migrations programmatically.

The scripts live in the top-level `migrations/` folder of the checkout, which the distribution
installs as the package `pipeline.db.migrations` (setup.py), so a wheel finds them too.
"""

from __future__ import annotations

from importlib.resources import as_file, files

from alembic import command
from alembic.config import Config


def alembic_config(url: str) -> Config:
    config = Config()
    with as_file(files("pipeline.db.migrations")) as location:
        config.set_main_option("script_location", str(location))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)
