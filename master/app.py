"""The master's Flask app factory (its own database, its own CA; nothing from the node side)."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import Migrate, upgrade
from flask_wtf.csrf import CSRFProtect

from models.db import use_sqlite_pragmas
from sync_contract.pki import write_private

from .models import mdb
from .pki import MasterPki

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
master_migrate = Migrate(directory=str(MIGRATIONS_DIR), render_as_batch=True)

DEFAULTS: dict[str, Any] = {
    "NODE_CERT_DAYS": 365,
    "ENROLL_TOKEN_HOURS": 48,
    "REPLAY_WINDOW_S": 300,
    "HEALTH_RETENTION_DAYS": 30,
    "STALE_AFTER_S": 300,  # a node silent for longer shows as "keine Meldung"
    "MAX_CONTENT_LENGTH": 256 * 1024,
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
}


def _secret_key(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    if not path.exists():
        write_private(path, secrets.token_hex(32).encode())
    return path.read_text().strip()


def create_master_app(data_dir: Path | str, test_config: dict[str, Any] | None = None) -> Flask:
    """The master app for ``data_dir`` (database ``master.sqlite3`` and CA in ``pki/``).

    The CA must exist (``voicegate master init-ca``)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    app.config.update(
        SECRET_KEY=_secret_key(data_dir),
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{(data_dir / 'master.sqlite3').resolve()}",
        MASTER_DATA_DIR=str(data_dir),
    )
    if test_config:
        app.config.update(test_config)

    pki = MasterPki(data_dir / "pki")
    if not pki.exists():
        raise FileNotFoundError(
            f"Keine Master-CA in {pki.directory}; zuerst 'voicegate master init-ca' ausführen"
        )
    app.extensions["voicegate_master_pki"] = pki
    app.extensions["voicegate_master_ca"] = pki.load_ca()

    mdb.init_app(app)
    master_migrate.init_app(app, mdb)
    with app.app_context():
        use_sqlite_pragmas(mdb.engine)
        upgrade(directory=str(MIGRATIONS_DIR))

    csrf = CSRFProtect(app)
    from . import node_api, operator_api, ui

    csrf.exempt(node_api.bp)
    csrf.exempt(operator_api.bp)  # HTTP Basic only, no cookies: nothing to forge
    app.register_blueprint(node_api.bp)
    app.register_blueprint(operator_api.bp)
    app.register_blueprint(ui.bp)
    return app
