"""System page: controller up or not, live calls, engines, disk, master sync — in German."""

from __future__ import annotations

import functools
import json
import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from master.testing import start_master
from node_sync.client import NodeSync, enroll, last_sync_status
from node_sync.state import NodePaths
from tests.admin_support import Browser, admin, app, browser, make_app, template_db

__all__ = ["admin", "app", "browser", "template_db"]

STATUS = {
    "controller_up": True, "version": "0.1.0",
    "live_calls": [{"uuid": "a-1", "chat_id": 7, "called_number": "4930123456",
                    "caller_number": "491701234567", "agent": "Empfang",
                    "since": "2026-11-25T08:15:00+00:00"}],
    "engines": {"ready": False, "stt": "faster-whisper small", "llm": "", "tts": "espeak",
                "problems": ["Ollama nicht erreichbar (qwen2.5:7b-instruct)"]},
}


@pytest.fixture
def controller() -> Iterator[int]:
    """A real HTTP server on loopback answering GET /status like the controller does."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            body = json.dumps(STATUS).encode()
            self.send_response(200 if self.path == "/status" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def node_admin(template_db: Path, data_dir: Path, **config: object) -> Browser:
    """The admin as the node wires it: the master link's state from ``node_sync``."""
    app = make_app(template_db, data_dir,
                   NODE_SYNC_STATUS=functools.partial(last_sync_status, data_dir), **config)
    browser = Browser(app.test_client())
    browser.login()
    return browser


def test_controller_down_is_said_plainly(template_db: Path, tmp_path: Path) -> None:
    page = node_admin(template_db, tmp_path / "down").text("/system/")
    assert "Controller nicht erreichbar" in page
    assert "Unbekannt, solange der Controller nicht erreichbar ist." in page
    assert "frei von" in page  # disk
    assert "Nicht beim Master registriert" in page and "noch nie" in page


def test_the_master_link_is_shown_as_the_node_reports_it(template_db: Path,
                                                         tmp_path: Path) -> None:
    master = start_master(tmp_path / "master")
    node_dir = tmp_path / "node"
    try:
        enroll(master.url, master.add_node("kunde-a"), master.ca_file, node_dir)
        browser = node_admin(template_db, node_dir)
        assert "Noch kein Abgleich" in browser.text("/system/")
        assert NodeSync(node_dir, browser.client.application,
                        rng=random.Random(1)).sync_once().ok
    finally:
        master.stop()
    page = browser.text("/system/")
    assert f"Verbunden ({master.url})." in page and "Konfiguration</dt><dd>Version 1<" in page


def test_an_unreadable_master_link_does_not_take_the_page_down(
        admin: Browser, template_db: Path, tmp_path: Path) -> None:
    # an admin app without its node: nothing to ask
    assert "Zustand der Master-Verbindung kann nicht gelesen werden" in admin.text("/system/")

    node_dir = tmp_path / "kaputt"
    browser = node_admin(template_db, node_dir)
    NodePaths(node_dir).directory.mkdir(parents=True)
    NodePaths(node_dir).state.write_text('{"gap_since": "gestern"}', encoding="utf-8")
    page = browser.text("/system/")
    assert "Zustand der Master-Verbindung kann nicht gelesen werden" in page
    assert "Controller nicht erreichbar" in page


def test_controller_status_live_calls_and_engines(template_db: Path, tmp_path: Path,
                                                  controller: int) -> None:
    app = make_app(template_db, tmp_path / "up",
                   CONTROLLER_STATUS_URL=f"http://127.0.0.1:{controller}/status")
    browser = Browser(app.test_client())
    browser.login("empfang")  # users may look at the system page too
    page = browser.text("/system/")
    assert "Controller läuft (Version 0.1.0)." in page
    assert "25.11.2026, 09:15 Uhr" in page and "491701234567" in page and "Empfang" in page
    assert 'href="/chats/7"' in page
    assert "Die Sprachmodelle sind nicht bereit – die KI nimmt keine Anrufe an." in page
    assert "ohne Rückfallnummer direkt auf das Sprachpostfach" in page
    assert "faster-whisper small" in page and "Sprachmodell (KI)</dt><dd>nicht geladen" in page
    assert "Ollama nicht erreichbar (qwen2.5:7b-instruct)" in page


def test_system_page_escapes_what_the_controller_reports(
        template_db: Path, tmp_path: Path, controller: int) -> None:
    STATUS["engines"]["problems"] = ["<b>kaputt</b>"]
    try:
        app = make_app(template_db, tmp_path / "esc",
                       CONTROLLER_STATUS_URL=f"http://127.0.0.1:{controller}/status")
        browser = Browser(app.test_client())
        browser.login()
        page = browser.text("/system/")
        assert "&lt;b&gt;kaputt&lt;/b&gt;" in page and "<b>kaputt</b>" not in page
    finally:
        STATUS["engines"]["problems"] = ["Ollama nicht erreichbar (qwen2.5:7b-instruct)"]


def test_engines_not_ready_says_calls_go_to_the_fallback_number(
        template_db: Path, tmp_path: Path, controller: int) -> None:
    app = make_app(template_db, tmp_path / "fb",
                   CONTROLLER_STATUS_URL=f"http://127.0.0.1:{controller}/status")
    browser = Browser(app.test_client())
    browser.login()
    browser.post("/einstellungen/", {"name": "Praxis", "timezone": "Europe/Berlin",
                                     "language": "de", "fallback_number": "+49 30 1234567",
                                     "voicemail_box": "", "tag_choices": "Termin"})
    page = browser.text("/system/")
    assert "Alle Anrufe gehen an die Ersatzweiterleitung – die Rückfallnummer +49301234567." in page
    assert "voicegate models pull" in page


def test_ready_without_language_model_says_keyword_mode(
        template_db: Path, tmp_path: Path, controller: int) -> None:
    engines = dict(STATUS["engines"])
    STATUS["engines"].update(ready=True, llm="", problems=[])
    try:
        app = make_app(template_db, tmp_path / "kw",
                       CONTROLLER_STATUS_URL=f"http://127.0.0.1:{controller}/status")
        browser = Browser(app.test_client())
        browser.login()
        page = browser.text("/system/")
        assert "Anrufe werden angenommen, aber ohne Sprachmodell (KI)" in page
        assert "Alle Modelle sind geladen und bereit." not in page
    finally:
        STATUS["engines"] = engines
