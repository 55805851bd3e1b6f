"""Alembic environment: migrates the connection that ``unseen.store`` hands over.

:func:`unseen.store._sql_engine.migrate` builds the Alembic config in code and passes an open
connection in ``config.attributes["connection"]``; no alembic.ini is needed. Run by hand
(``alembic -x url=... upgrade head`` with ``script_location`` pointing here), it connects to
the ``url`` given with ``-x``.

To add a revision: change ``unseen/store/_sql_schema.py``, then copy the newest file in
``versions/`` to ``NNNN_what.py`` with ``down_revision`` set to the previous revision and the
operations written out (``alembic revision --autogenerate`` proposes them); the test suite
checks that the migrated schema equals the metadata on SQLite and PostgreSQL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from unseen.store._sql_schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("give the database URL: alembic -x url=... upgrade head")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


main()
