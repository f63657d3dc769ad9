"""Alembic environment for the master's own database (separate from the node's ``models``)."""

from alembic import context
from flask import current_app


def run_migrations_online() -> None:
    db = current_app.extensions["migrate"].db
    with db.engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=db.metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
