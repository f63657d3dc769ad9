"""The database object and its set-up: SQLite in WAL mode by default, any SQLAlchemy URL works."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from flask_migrate import Migrate, upgrade
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate(directory=str(MIGRATIONS_DIR), render_as_batch=True)

# WAL lets the admin read while the controller writes; busy_timeout rides out short locks;
# secure_delete overwrites deleted and superseded rows with zeros, so an erased caller is not
# left behind in freed pages (DSGVO Art. 17).
SQLITE_PRAGMAS = ("journal_mode=WAL", "secure_delete=ON", "synchronous=NORMAL",
                  "foreign_keys=ON", "busy_timeout=5000")


def use_sqlite_pragmas(engine: Engine) -> None:
    """Every new connection of ``engine`` gets :data:`SQLITE_PRAGMAS` (other databases: no-op).
    Attached per engine by :func:`init_db`, not to every engine in the process."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _set_sqlite_pragmas)


def _set_sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def init_db(app: Flask) -> None:
    """Bind ``db`` and migrations to ``app`` (config key SQLALCHEMY_DATABASE_URI must be set);
    its SQLite engines get the pragmas before their first connection."""
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    db.init_app(app)
    migrate.init_app(app, db)
    with app.app_context():
        for engine in db.engines.values():
            use_sqlite_pragmas(engine)


def upgrade_schema(app: Flask) -> None:
    """Bring the database to the newest migration (idempotent)."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))


def create_db_app(database_url: str, *, name: str = "voicegate-db") -> Flask:
    """A minimal Flask app that only carries the database (used by controller and CLI)."""
    app = Flask(name)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    init_db(app)
    return app
