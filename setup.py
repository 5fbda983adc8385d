"""Maps the top-level `migrations/` folder into the distribution as `pipeline.db.migrations`, so a
wheel carries its Alembic scripts (pyproject.toml alone cannot add a mapped package to the ones
it discovers). Everything else about the package is in pyproject.toml."""

from setuptools import find_namespace_packages, setup

MIGRATIONS = {
    "pipeline.db.migrations": "migrations",
    "pipeline.db.migrations.versions": "migrations/versions",
}

setup(
    packages=find_namespace_packages(include=["pipeline*", "layouts*", "workers*"]) + list(MIGRATIONS),
    package_dir=MIGRATIONS,
    package_data={
        "layouts": ["presets/*.json"],
        "pipeline.api": ["static/*"],
        "pipeline.db.migrations": ["script.py.mako"],
    },
)
