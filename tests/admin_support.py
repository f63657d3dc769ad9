"""Helpers for the admin tests: a migrated SQLite file per test, users, a logged-in client,
and rows (agents, numbers, chats) made the way the controller makes them."""

from __future__ import annotations

import datetime as dt
import functools
import re
import shutil
import socket
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from admin import create_app
from admin.users import hash_password
from config import Settings
from models import (
    Agent,
    Chat,
    ChatEvent,
    PhoneNumber,
    TimeWindow,
    Turn,
    User,
    WindowPeriod,
    create_db_app,
    db,
    upgrade_schema,
)

PASSWORD = "richtig-geheim-42"
DB_NAME = "voicegate.sqlite3"


def migrated_template(folder: Path) -> Path:
    """An empty database at the newest migration, to be copied per test (migrating is slow)."""
    path = folder / DB_NAME
    app = create_db_app(f"sqlite:///{path}")
    upgrade_schema(app)
    with app.app_context():
        db.engine.dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def free_port() -> int:
    """A loopback port nobody listens on (the controller is "down" there)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_app(template_db: Path, data_dir: Path, settings_changes: dict[str, Any] | None = None,
             **config: Any) -> Flask:
    """``settings_changes``: node settings (config.Settings fields) to set."""
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(template_db, data_dir / DB_NAME)
    settings = Settings(data_dir=data_dir, secret_key="test-secret", status_port=free_port(),
                        **(settings_changes or {}))
    app = create_app(settings, test_config={"TESTING": True, **config})
    with app.app_context():
        for name, role in (("chef", "admin"), ("empfang", "user")):
            db.session.add(User(username=name, password_hash=_password_hash(), role=role))
        db.session.commit()
    return app


@functools.cache
def _password_hash() -> str:
    """Hashed once per test session: argon2 is slow on purpose."""
    return hash_password(PASSWORD)


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Browser:
    """A test client that logs in and sends CSRF tokens like the real forms do."""

    client: FlaskClient
    token: str = ""

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        response = self.client.get(path, **kwargs)
        found = _CSRF.search(response.get_data(as_text=True))
        if found:
            self.token = found.group(1)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> TestResponse:
        if not self.token:
            self.get("/anmelden")
        return self.client.post(path, data={"csrf_token": self.token, **(data or {})}, **kwargs)

    def login(self, username: str = "chef", password: str = PASSWORD) -> TestResponse:
        self.get("/anmelden")
        response = self.post("/anmelden", {"username": username, "password": password})
        self.get("/chats/")
        return response

    def text(self, path: str) -> str:
        response = self.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response.get_data(as_text=True)


def make_agent(name: str = "Empfang", template: str = "operator",
               params: dict[str, Any] | None = None) -> Agent:
    agent = Agent(name=name, template=template, params=params or {
        "targets": [{"key": "zentrale", "label": "Zentrale", "kind": "number",
                     "number": "4930999"}],
        "default_target": "zentrale"})
    db.session.add(agent)
    db.session.flush()
    return agent


def make_number(number: str = "4930123456", label: str = "Zentrale") -> PhoneNumber:
    row = PhoneNumber(number=number, label=label)
    db.session.add(row)
    db.session.flush()
    return row


def make_weekly_window(number: PhoneNumber, agent: Agent, name: str,
                       periods: list[tuple[int, str, str]], category: str = "regulaer",
                       priority: int = 0) -> TimeWindow:
    window = TimeWindow(phone_number_id=number.id, agent_id=agent.id, name=name, kind="weekly",
                        category=category, priority=priority)
    for weekday, start, end in periods:
        window.periods.append(WindowPeriod(weekday=weekday, start=dt.time.fromisoformat(start),
                                           end=dt.time.fromisoformat(end)))
    db.session.add(window)
    db.session.flush()
    return window


def make_chat(*, caller_name: str = "Erika Mustermann", caller_number: str = "491701234567",
              status: str = "neu", summary: str = "Bittet um Rückruf wegen Rechnung.",
              tags: list[str] | None = None, agent: str = "Empfang",
              turns: list[tuple[str, str]] | None = None, started_at: dt.datetime | None = None,
              events: list[tuple[str, dict[str, Any]]] | None = None) -> Chat:
    started = started_at or dt.datetime(2026, 11, 20, 8, 30)
    chat = Chat(call_uuid=f"uuid-{caller_number}-{started.isoformat()}-{caller_name}",
                called_number="4930123456", caller_number=caller_number,
                caller_name=caller_name, start_agent_name=agent, last_agent_name=agent,
                window_name="Bürozeiten", status=status, started_at=started,
                answered_at=started, ended_at=started + dt.timedelta(minutes=2, seconds=5),
                end_reason="agent_hangup", summary=summary, tags=tags or [])
    db.session.add(chat)
    db.session.flush()
    for seq, (role, text) in enumerate(turns or [], start=1):
        db.session.add(Turn(chat_id=chat.id, seq=seq, role=role, text=text,
                            agent_name=agent if role == "agent" else "",
                            at=started + dt.timedelta(seconds=5 * seq),
                            timings={"stt": 120.4, "llm_ttft": 310.0, "total": 780.2}
                            if role == "agent" else {}))
    for seq, (kind, data) in enumerate(events or [], start=1):
        db.session.add(ChatEvent(chat_id=chat.id, seq=seq, kind=kind, data=data,
                                 at=started + dt.timedelta(seconds=2 * seq)))
    db.session.flush()
    return chat


# Fixtures (import them into a test module by name).


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_template(tmp_path_factory.mktemp("template-db"))


@pytest.fixture
def app(template_db: Path, tmp_path: Path) -> Flask:
    return make_app(template_db, tmp_path / "data")


@pytest.fixture
def browser(app: Flask) -> Browser:
    return Browser(app.test_client())


@pytest.fixture
def admin(browser: Browser) -> Browser:
    """Logged in as an admin."""
    browser.login("chef")
    return browser
