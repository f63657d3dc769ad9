"""The node's half of a master test: its database with the real schema. (The master's half, a
real master over HTTPS, is ``master.testing``; the master package knows nothing of the node's
database.)"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from models import create_db_app, upgrade_schema


def make_node_db(data_dir: Path) -> Flask:
    """The node's database app with the real schema (SQLite in ``data_dir``)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    app = create_db_app(f"sqlite:///{(data_dir / 'voicegate.sqlite3').resolve()}")
    upgrade_schema(app)
    return app
