"""The customer's German dashboard: numbers and time windows, agents, chats, settings,
data protection, system health.

Server-rendered Flask; everything essential works without JavaScript.

Layer: above ``models``, ``agents``, ``privacy``, ``freeswitch_conf`` and ``config``, beside
``esl_controller``, ``master`` and ``node_sync``, which it never imports: what it needs from the
running node comes in through ``create_app`` (``sync_status``) or the controller's local status
endpoint. Only ``voicegate`` (the node's composition root) imports it."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, redirect, url_for
from flask_wtf.csrf import CSRFProtect

from config import Settings, load_settings
from models import init_db

if TYPE_CHECKING:
    from .system import SyncStatus

log = logging.getLogger(__name__)

csrf = CSRFProtect()

# Defence in depth: no inline script, no foreign origins. Escaping itself is Jinja's job.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


def secret_key_for(settings: Settings) -> str:
    """The configured secret key, else one generated once and kept in ``<data>/secret_key``."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / "secret_key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.touch(mode=0o600)
    path.write_text(key, encoding="utf-8")
    log.info("generated a new admin secret key in %s", path)
    return key


def create_app(
    settings: Settings | None = None, test_config: dict[str, Any] | None = None, *,
    sync_status: SyncStatus | None = None,
) -> Flask:
    """Build the admin app. ``sync_status``: how the system page learns the state of the node's
    master link (None: it says it cannot read it). ``test_config`` overrides any config key
    (tests, deployments)."""
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=secret_key_for(settings),
        SQLALCHEMY_DATABASE_URI=settings.sqlalchemy_url,
        RECORDINGS_DIR=str(settings.recordings_dir),
        DATA_DIR=str(settings.data_dir),
        CONTROLLER_STATUS_URL=f"http://127.0.0.1:{settings.status_port}/status",
        CONTROLLER_STATUS_TIMEOUT_S=1.0,
        NODE_SYNC_STATUS=sync_status,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.admin_cookie_secure,
        SESSION_COOKIE_NAME="voicegate_session",
        PERMANENT_SESSION_LIFETIME=12 * 3600,
        LOGIN_MAX_FAILURES=5,
        LOGIN_BLOCK_SECONDS=300,
        CHAT_POLL_SECONDS=5,
        CONTENT_SECURITY_POLICY=CONTENT_SECURITY_POLICY,  # None: no header (escaping tests)
        MAX_CONTENT_LENGTH=25 * 1024 * 1024,  # knowledge uploads (20 MB) plus form overhead
    )
    if test_config:
        app.config.from_mapping(test_config)
    app.extensions["voicegate_settings"] = settings

    init_db(app)
    csrf.init_app(app)

    from . import (
        agent_views,
        audit,
        auth,
        chats,
        errors,
        formatting,
        numbers,
        phone_display,
        privacy_views,
        settings_views,
        system,
    )

    auth.init_app(app)
    formatting.init_app(app)
    phone_display.init_app(app)
    errors.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(chats.bp)
    app.register_blueprint(numbers.bp)
    app.register_blueprint(agent_views.bp)
    app.register_blueprint(settings_views.bp)
    app.register_blueprint(system.bp)
    app.register_blueprint(privacy_views.bp)
    app.register_blueprint(audit.bp)

    @app.get("/")
    @auth.login_required
    def index() -> Response:
        return redirect(url_for("chats.cards"))

    @app.after_request
    def security_headers(response: Response) -> Response:
        if app.config["CONTENT_SECURITY_POLICY"]:
            response.headers.setdefault("Content-Security-Policy",
                                        app.config["CONTENT_SECURITY_POLICY"])
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app
