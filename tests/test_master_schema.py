"""The master's migrations create exactly the schema its models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from master.app import create_master_app
from master.models import mdb
from master.pki import MasterPki


def test_migrations_match_the_models(tmp_path: Path) -> None:
    MasterPki(tmp_path / "pki").init(["127.0.0.1"])
    app = create_master_app(tmp_path)
    with app.app_context(), mdb.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), mdb.metadata)
    assert differences == []
    create_master_app(tmp_path)  # a second start on the same database is a no-op upgrade
