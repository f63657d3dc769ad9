"""Everything a caller said is shown as text: HTML/JS payloads in a transcript, the caller's
name, summary, tags and timeline never become markup or run — on the cards, in the list and
search, on the detail page and after a live update by the polling script.

The app runs without its Content-Security-Policy here, so escaping alone is what is tested."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from models import Chat, db
from tests.admin_support import make_chat
from tests.browser.conftest import LiveServer, login

pytestmark = pytest.mark.slow

NAME = '<img src=x onerror="window.__pwned=1;alert(1)">'
SUMMARY = '</p><script>window.__pwned=2</script><p>'
TAG = '<b onmouseover="window.__pwned=3">VIP</b>'
SAID = '"><svg onload="window.__pwned=4"></svg><iframe src="javascript:window.__pwned=5">'
LATE_SUMMARY = '<img src=y onerror="window.__pwned=6">Rückruf <i>heute</i>'
NO_CSP = {"CONTENT_SECURITY_POLICY": None}


def _assert_inert(page) -> None:
    assert page.evaluate("() => window.__pwned") is None
    for selector in ("main img", "main script", "main svg", "main iframe", "main b", "main i"):
        assert page.locator(selector).count() == 0, selector


@pytest.mark.parametrize("live", [NO_CSP], indirect=True)
def test_payloads_are_shown_as_text_everywhere(page, live: LiveServer) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    with live.app.app_context():
        chat = make_chat(caller_name=NAME, summary=SUMMARY, tags=[TAG], agent=SAID,
                         turns=[("caller", SAID), ("agent", "Wie bitte?")],
                         events=[("handover", {"from_agent": SAID, "to_agent": NAME,
                                               "reason": SUMMARY}),
                                 ("tool_call", {"tool": TAG, "arguments": {SAID: NAME},
                                                "result": SUMMARY, "ok": False})],
                         started_at=dt.datetime(2026, 11, 20, 9, 0))
        running = make_chat(caller_name="Live", status="in_arbeit", summary="",
                            started_at=dt.datetime(2026, 11, 20, 10, 0))
        db.session.commit()
        chat_id, running_id = chat.id, running.id
    login(page, live)
    assert response_has_no_csp(page, live)
    card = page.locator(f"#chat-{chat_id}")
    expect(card.locator("h2")).to_have_text(NAME)
    expect(card.locator("[data-role=summary]")).to_have_text(SUMMARY)
    expect(card.locator("[data-role=tags]")).to_have_text(TAG)
    _assert_inert(page)

    with live.app.app_context():  # a live update carries a payload through the polling JSON
        row = db.session.get(Chat, running_id)
        row.status, row.summary, row.tags = "neu", LATE_SUMMARY, [TAG]
        db.session.commit()
    late = page.locator(f"#chat-{running_id}")
    expect(late.locator("[data-role=summary]")).to_have_text(LATE_SUMMARY)
    expect(late.locator("[data-role=tags]")).to_have_text(TAG)
    _assert_inert(page)

    page.goto(f"{live.url}/chats/liste?q=svg+onload")  # found via the transcript
    expect(page.locator(f"tr[data-chat-id='{chat_id}'] td").nth(1)).to_have_text(NAME)
    _assert_inert(page)

    page.goto(f"{live.url}/chats/{chat_id}")
    expect(page.locator("h1")).to_have_text(NAME)
    expect(page.locator(".turn-caller .text")).to_have_text(SAID)
    expect(page.locator(".event-handover .text")).to_contain_text(f"{SAID} → {NAME}")
    expect(page.locator(".event-tool_call .text")).to_contain_text(TAG)
    page.wait_for_timeout(1500)  # let the polling script run once on this page too
    _assert_inert(page)
    assert dialogs == []


def response_has_no_csp(page, live: LiveServer) -> bool:
    response = page.request.get(f"{live.url}/chats/")
    return "content-security-policy" not in response.headers


def test_csp_blocks_inline_script_as_second_line_of_defence(page, live: LiveServer) -> None:
    login(page, live)
    response = page.request.get(f"{live.url}/chats/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
