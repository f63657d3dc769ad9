"""Login, roles, CSRF, session cookies, rate limit — and a crawl proving every page needs a
session."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from admin.ratelimit import LoginRateLimiter
from tests.admin_support import PASSWORD, Browser, admin, app, browser, make_app, template_db

__all__ = ["admin", "app", "browser", "template_db"]

PUBLIC_ENDPOINTS = {"auth.login", "static"}


def _example_url(rule) -> str:
    """Fill every URL variable with a plausible value (ints: 1, paths/strings: x)."""
    path = rule.rule
    for arg in rule.arguments:
        converter = rule._converters[arg]
        value = "1" if type(converter).__name__ == "IntegerConverter" else "weekly"
        path = re.sub(rf"<(?:[^:<>]+(?:\([^)]*\))?:)?{arg}>", value, path)
    return path


def test_every_page_but_login_requires_a_session(template_db: Path, tmp_path: Path) -> None:
    # CSRF off so POST routes reach the login check instead of failing on the token first.
    crawl_app = make_app(template_db, tmp_path / "crawl", WTF_CSRF_ENABLED=False)
    client = crawl_app.test_client()
    checked = 0
    for rule in crawl_app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        url = _example_url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            checked += 1
            if response.status_code == 401:
                assert response.is_json and response.json["error"] == "Nicht angemeldet", url
            else:
                assert response.status_code == 302, (method, url, response.status_code)
                assert response.location.startswith("/anmelden"), (method, url)
    assert checked >= 25  # the crawl really covered the app


def test_login_page_is_public_and_german(browser: Browser) -> None:
    page = browser.text("/anmelden")
    assert "Anmelden" in page and "Passwort" in page


def test_login_then_logout(browser: Browser) -> None:
    response = browser.login("chef")
    assert response.status_code == 302 and response.location == "/chats/"
    assert "chef" in browser.text("/chats/")
    response = browser.post("/abmelden")
    assert response.status_code == 302 and response.location == "/anmelden"
    assert browser.get("/chats/").status_code == 302


def test_login_redirects_back_to_the_asked_page_but_never_off_site(browser: Browser) -> None:
    assert browser.get("/system/").location == "/anmelden?next=/system/"
    browser.get("/anmelden")
    response = browser.post("/anmelden", {"username": "chef", "password": PASSWORD,
                                          "next": "/system/"})
    assert response.location == "/system/"
    browser.post("/abmelden")
    browser.get("/anmelden")
    response = browser.post("/anmelden", {"username": "chef", "password": PASSWORD,
                                          "next": "//evil.example/"})
    assert response.location == "/chats/"


def test_wrong_password_is_refused_in_german(browser: Browser) -> None:
    browser.get("/anmelden")
    response = browser.post("/anmelden", {"username": "chef", "password": "falsch-falsch"})
    assert response.status_code == 401
    assert "Benutzername oder Passwort ist falsch." in response.get_data(as_text=True)
    assert browser.get("/chats/").status_code == 302


def test_failed_logins_are_rate_limited_even_with_the_right_password(browser: Browser) -> None:
    browser.get("/anmelden")
    for _ in range(5):
        assert browser.post("/anmelden", {"username": "chef", "password": "nein"}).status_code \
            == 401
    response = browser.post("/anmelden", {"username": "chef", "password": PASSWORD})
    assert response.status_code == 429
    assert "Zu viele Fehlversuche" in response.get_data(as_text=True)
    assert browser.get("/chats/").status_code == 302
    # another account from the same address is not locked by these failures
    assert browser.post("/anmelden", {"username": "empfang", "password": PASSWORD}) \
        .status_code == 302


def test_rate_limiter_forgets_failures_after_the_window() -> None:
    now = [1000.0]
    limiter = LoginRateLimiter(max_failures=2, window_s=60, clock=lambda: now[0])
    limiter.failed(["k"])
    limiter.failed(["k"])
    assert limiter.retry_after(["k"]) == pytest.approx(60)
    now[0] += 30
    assert limiter.retry_after(["k"]) == pytest.approx(30)
    now[0] += 31
    assert limiter.retry_after(["k"]) == 0


def test_forms_without_csrf_token_are_rejected(admin: Browser) -> None:
    response = admin.client.post("/nummern/", data={"number": "+49 30 5555"})
    assert response.status_code == 400
    assert "Formular" in response.get_data(as_text=True)
    response = admin.client.post("/anmelden", data={"username": "chef", "password": PASSWORD})
    assert response.status_code == 400


def test_session_cookie_is_httponly_and_lax(browser: Browser) -> None:
    response = browser.login("chef")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_session_cookie_secure_when_configured(template_db: Path, tmp_path: Path) -> None:
    secure_app = make_app(template_db, tmp_path / "https", SESSION_COOKIE_SECURE=True)
    browser = Browser(secure_app.test_client())
    response = browser.login("chef")
    assert "Secure" in response.headers["Set-Cookie"]


def test_users_read_chats_but_only_admins_configure(browser: Browser) -> None:
    browser.login("empfang")
    assert browser.get("/chats/").status_code == 200
    assert browser.get("/system/").status_code == 200
    for path in ("/nummern/", "/agenten/", "/agenten/neu"):
        response = browser.get(path)
        assert response.status_code == 403
        assert "Keine Berechtigung" in response.get_data(as_text=True)
    assert "Nummern &amp; Zeitfenster" not in browser.text("/chats/")


def test_secret_key_is_generated_once_and_kept(template_db: Path, tmp_path: Path) -> None:
    from admin import create_app
    from config import Settings

    settings = Settings(data_dir=tmp_path / "keys")
    first = create_app(settings).config["SECRET_KEY"]
    second = create_app(settings).config["SECRET_KEY"]
    assert first == second and len(first) >= 32
    assert (tmp_path / "keys" / "secret_key").stat().st_mode & 0o077 == 0


def test_security_headers(app: Flask) -> None:
    response = app.test_client().get("/anmelden")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_cli_creates_a_user_who_can_log_in(tmp_path: Path, monkeypatch) -> None:
    import argparse
    import io

    from admin.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    data = tmp_path / "cli"
    args = parser.parse_args(["admin", "create-user", "anna", "--role", "admin", "--data",
                              str(data), "--password-stdin"])
    monkeypatch.setattr("sys.stdin", io.StringIO("ein-langes-passwort\n"))
    assert args.func(args) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("ein-langes-passwort\n"))
    assert args.func(args) == 1  # exists already

    from admin import create_app
    from config import Settings

    browser = Browser(create_app(Settings(data_dir=data, secret_key="x")).test_client())
    assert browser.login("anna", "ein-langes-passwort").location == "/chats/"
