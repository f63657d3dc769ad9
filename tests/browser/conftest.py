"""Real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright against the admin
served by a real HTTP server thread on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.admin_support import PASSWORD, make_app, migrated_template

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--lang=de-DE",  # 24-hour time inputs, German date pickers
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} fehlt (Debian-Paket chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def browser_template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_template(tmp_path_factory.mktemp("browser-template"))


class LiveServer:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def live(browser_template_db: Path, tmp_path: Path, request) -> Iterator[LiveServer]:
    config = {"CHAT_POLL_SECONDS": 1}
    config.update(getattr(request, "param", {}) or {})
    server = LiveServer(make_app(browser_template_db, tmp_path / "data", **config)).start()
    yield server
    server.stop()


@pytest.fixture
def page(chromium, live: LiveServer):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE")
    page = context.new_page()
    page.set_default_timeout(5000)
    yield page
    context.close()


def login(page, live: LiveServer, username: str = "chef") -> None:
    page.goto(f"{live.url}/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Anmelden')")
    page.wait_for_selector("h1:has-text('Chats')")


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
