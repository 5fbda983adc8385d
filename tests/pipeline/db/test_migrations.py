from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from pipeline.db import Base, Database


def test_migrations_build_exactly_the_models(database_url):
    db = Database(database_url)
    db.upgrade()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert {"rooms", "recordings", "compositions", "composition_hooks", "callback_deliveries"} <= set(
        inspect(db.engine).get_table_names()
    )


def test_upgrade_twice_is_harmless(database_url):
    db = Database(database_url)
    db.upgrade()
    db.upgrade()
