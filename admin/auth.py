"""Login, logout and the decorators that guard every other page."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from models import User, db

from .ratelimit import LoginRateLimiter
from .users import authenticate

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)


def init_app(app: Flask) -> None:
    window = float(app.config["LOGIN_BLOCK_SECONDS"])
    per_user = int(app.config["LOGIN_MAX_FAILURES"])
    app.extensions["login_limiters"] = (
        LoginRateLimiter(per_user, window),  # one address trying one account
        LoginRateLimiter(per_user * 4, window),  # one address trying many accounts
    )
    app.before_request(load_logged_in_user)
    app.context_processor(lambda: {"current_user": g.get("user")})


def load_logged_in_user() -> None:
    user_id = session.get("user_id")
    g.user = db.session.get(User, user_id) if isinstance(user_id, int) else None


def _wants_json() -> bool:
    return request.path.endswith(".json") or request.accept_mimetypes.best == "application/json"


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapped(**kwargs: Any) -> Any:
        if g.get("user") is None:
            if _wants_json():
                return jsonify(error="Nicht angemeldet"), 401
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(**kwargs)

    return wrapped


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Configuration pages: only the admin role."""

    @functools.wraps(view)
    @login_required
    def wrapped(**kwargs: Any) -> Any:
        if g.user.role != "admin":
            abort(403)
        return view(**kwargs)

    return wrapped


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("chats.cards")


def _limiter_keys(username: str) -> tuple[list[str], list[str]]:
    address = request.remote_addr or "?"
    return [f"{address}|{username.strip().lower()}"], [address]


def _retry_after(username: str) -> float:
    pair, address = _limiter_keys(username)
    per_user, per_address = current_app.extensions["login_limiters"]
    return max(per_user.retry_after(pair), per_address.retry_after(address))


@bp.route("/anmelden", methods=("GET", "POST"))
def login() -> Any:
    if request.method == "GET":
        return render_template("auth/login.html", next=request.args.get("next", ""))
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    next_url = request.form.get("next", "")
    wait = _retry_after(username)
    if wait > 0:
        minutes = max(1, round(wait / 60))
        log.warning("login blocked for %r from %s", username, request.remote_addr)
        flash(f"Zu viele Fehlversuche. Bitte in {minutes} Minute(n) erneut versuchen.", "error")
        return render_template("auth/login.html", next=next_url, username=username), 429
    user = authenticate(username, password)
    per_user, per_address = current_app.extensions["login_limiters"]
    pair, address = _limiter_keys(username)
    if user is None:
        per_user.failed(pair)
        per_address.failed(address)
        log.info("failed login for %r from %s", username, request.remote_addr)
        flash("Benutzername oder Passwort ist falsch.", "error")
        return render_template("auth/login.html", next=next_url, username=username), 401
    per_user.succeeded(pair)
    session.clear()
    session.permanent = True
    session["user_id"] = user.id
    log.info("user %s logged in", user.username)
    g.user = user
    from .audit import record

    record("login", f"Benutzer {user.username}", f"user:{user.id}")
    return redirect(_safe_next(next_url))


@bp.post("/abmelden")
@login_required
def logout() -> Response:
    session.clear()
    flash("Sie wurden abgemeldet.", "info")
    return redirect(url_for("auth.login"))
