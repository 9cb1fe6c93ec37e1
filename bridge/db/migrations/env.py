"""Alembic environment: the bridge passes its own connection in; offline mode is not used."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from bridge.db.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    # Developers: `alembic -c bridge/db/alembic.ini revision --autogenerate -m "..."` with
    # sqlalchemy.url pointing at a database migrated to head.
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url in bridge/db/alembic.ini to autogenerate")
    with create_engine(url).connect() as sync_connection:
        _run(sync_connection)
        sync_connection.commit()
