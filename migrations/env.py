"""Alembic environment: the URL comes from the caller's config or ROOMREEL_DATABASE_URL."""

from alembic import context
from sqlalchemy import engine_from_config, pool

from pipeline.config import Settings
from pipeline.db.engine import normalise_url
from pipeline.db.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url") or normalise_url(Settings.from_env().database_url)
config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
