"""The admin in a real headless Chromium: login, a number with windows, an agent from each
template, working a chat from Neu to Erledigt — with screenshots for people to look at."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from agents.templates import TEMPLATES
from models import Agent, Chat, TimeWindow, db
from tests.admin_support import make_agent, make_chat
from tests.browser.conftest import LiveServer, login, screenshot

pytestmark = pytest.mark.slow


def test_login_and_logout(page, live: LiveServer) -> None:
    page.goto(f"{live.url}/chats/liste")
    assert page.url.startswith(f"{live.url}/anmelden")
    page.fill("#username", "chef")
    page.fill("#password", "falsch-falsch")
    page.click("button:has-text('Anmelden')")
    assert page.inner_text(".flash-error") == "Benutzername oder Passwort ist falsch."
    login(page, live)
    assert page.inner_text(".topbar .who") == "chef"
    page.click("button:has-text('Abmelden')")
    assert page.inner_text(".flash") == "Sie wurden abgemeldet."
    page.goto(f"{live.url}/chats/")
    assert "/anmelden" in page.url


def test_create_a_number_with_windows_and_holidays(page, live: LiveServer) -> None:
    with live.app.app_context():
        make_agent("Tagdienst")
        make_agent("Notdienst")
        db.session.commit()
    login(page, live)
    page.click("nav >> text=Nummern & Zeitfenster")
    page.fill("input[name=number]", "+49 30 1234567")
    page.fill("input[name=label]", "Zentrale")
    page.click("button:has-text('Nummer anlegen')")
    assert "Kein Zeitfenster aktiv" in page.inner_text("[data-role=now-active]")

    page.click("text=Wöchentliches Zeitfenster anlegen")
    page.fill("#name", "Bürozeiten")
    page.select_option("#agent_id", label="Tagdienst")
    page.fill("input[aria-label='Montag Beginn 1']", "08:00")
    page.fill("input[aria-label='Montag Ende 1']", "12:00")
    page.fill("input[aria-label='Montag Beginn 2']", "13:00")
    page.fill("input[aria-label='Montag Ende 2']", "17:00")
    page.check("input[name=copy_monday]")
    screenshot(page, "zeitfenster-editor")
    page.click("button:has-text('Speichern')")
    assert "Zeitfenster „Bürozeiten“ angelegt." in page.inner_text(".flash")
    week = page.inner_text(".week")
    assert week.count("08:00–12:00 Bürozeiten") == 5 and week.count("13:00–17:00") == 5

    page.click("text=Fenster „Immer“ anlegen")
    page.select_option("#agent_id", label="Notdienst")
    page.click("button:has-text('Speichern')")
    page.select_option("select[name=bundesland]", label="Nordrhein-Westfalen")
    page.select_option("select[name=jahr]", str(dt.date.today().year + 1))
    page.select_option("form:has(select[name=bundesland]) select[name=agent_id]",
                       label="Notdienst")
    page.click("button:has-text('Gesetzliche Feiertage anlegen')")
    assert "Feiertage" in page.inner_text(".flash") and "Nordrhein-Westfalen" in \
        page.inner_text(".flash")
    assert "Fronleichnam" in page.inner_text("table")

    page.fill("input[name=datum]", "2030-03-04")  # a Monday
    page.fill("input[name=uhrzeit]", "12:30")
    page.click("button:has-text('Wer nimmt an?')")
    assert "Notdienst nimmt an (Zeitfenster „Immer“)" in page.inner_text("[data-role=preview]")
    page.fill("input[name=uhrzeit]", "09:15")
    page.click("button:has-text('Wer nimmt an?')")
    assert "Tagdienst nimmt an (Zeitfenster „Bürozeiten“) – bis" in \
        page.inner_text("[data-role=preview]")
    screenshot(page, "nummer-wochenansicht")
    with live.app.app_context():
        assert db.session.scalar(db.select(db.func.count(TimeWindow.id))) > 10


def _fill_template_form(page, key: str) -> None:
    if key == "operator":
        rows = page.locator("[data-param=targets] .repeat-row")
        rows.nth(0).locator("input[name=targets-label]").fill("Buchhaltung")
        rows.nth(0).locator("input[name=targets-number]").fill("+49 30 1111")
        rows.nth(0).locator("input[name=targets-keywords]").fill("Rechnung, Mahnung")
        rows.nth(1).locator("input[name=targets-label]").fill("Zentrale")
        rows.nth(1).locator("select[name=targets-kind]").select_option("agent")
        rows.nth(1).locator("select[name=targets-agent_id]").select_option(label="Zentrale")
        rows.nth(1).locator("input[name=default_target]").check()
    elif key == "workflow":
        page.locator("input[name=steps-question]").nth(3).fill("Wann passt ein Termin?")
        page.locator("select[name=steps-kind]").nth(3).select_option("date")
    elif key == "voicemail":
        page.fill("#param-greeting", "Sie sind mit der Mailbox verbunden.")
    elif key == "knowledge":
        page.fill("#param-topic", "Öffnungszeiten und Preise")


def test_create_an_agent_from_each_template(page, live: LiveServer) -> None:
    with live.app.app_context():
        make_agent("Zentrale")
        db.session.commit()
    login(page, live)
    for key, template in TEMPLATES.items():
        page.goto(f"{live.url}/agenten/")
        page.click("text=Neuer Agent")
        page.click(f"[data-template={key}]")
        assert template.label in page.inner_text("main")
        page.fill("#name", f"Agent {template.label}")
        _fill_template_form(page, key)
        if key == "operator":
            screenshot(page, "agent-formular")
        page.click("button:has-text('Agent anlegen')")
        assert f"Agent „Agent {template.label}“ angelegt." in page.inner_text(".flash"), key
    with live.app.app_context():
        rows = {a.template: a for a in db.session.scalars(db.select(Agent))
                if a.name.startswith("Agent ")}
        assert set(rows) == set(TEMPLATES)
        assert rows["operator"].params["default_target"] == "zentrale"
        assert rows["workflow"].params["steps"][-1]["question"] == "Wann passt ein Termin?"


def test_agent_form_shows_errors_next_to_fields(page, live: LiveServer) -> None:
    login(page, live)
    page.goto(f"{live.url}/agenten/neu/operator")
    page.fill("#param-max_followups", "9")
    page.click("button:has-text('Agent anlegen')")
    assert page.inner_text("[data-param=max_followups] .field-error") == \
        "Muss zwischen 0 und 5 liegen"
    assert page.inner_text("#error-name") == "Pflichtfeld"
    screenshot(page, "agent-formular-fehler")


def test_work_a_chat_from_neu_to_erledigt(page, live: LiveServer) -> None:
    with live.app.app_context():
        for i in range(5):
            make_chat(caller_name=f"Kundin {i}", tags=["Rückruf"],
                      started_at=dt.datetime(2026, 11, 20, 8 + i, 0))
        running = make_chat(caller_name="Hans Huber", status="in_arbeit", summary="",
                            started_at=dt.datetime(2026, 11, 20, 15, 0))
        db.session.commit()
        chat_id = running.id
    login(page, live)
    card = page.locator(f"#chat-{chat_id}")
    assert card.locator("[data-role=status]").inner_text() == "In Arbeit"
    assert card.locator("[data-role=actions]").is_hidden()
    screenshot(page, "chat-karten")
    with live.app.app_context():  # the call ends: the controller writes summary and status
        chat = db.session.get(Chat, chat_id)
        chat.status, chat.summary, chat.last_agent_name = "neu", "Heizung defekt.", "Technik"
        chat.tags = ["Störung"]
        db.session.commit()
    expect(card.locator("[data-role=status]")).to_have_text("Neu")  # no reload: polling
    assert card.locator("[data-role=summary]").inner_text() == "Heizung defekt."
    assert card.locator("[data-role=last-agent]").inner_text() == "Technik"
    assert card.locator("[data-role=tags]").inner_text() == "Störung"
    assert card.locator("[data-role=actions]").is_visible()
    card.locator("a:has-text('Verlauf & Aufnahme')").click()
    assert page.inner_text("h1") == "Hans Huber"
    page.go_back()
    page.locator(f"#chat-{chat_id} button:has-text('Erledigt')").click()
    assert page.inner_text(".flash") == "Chat mit Hans Huber ist erledigt."
    assert page.locator(f"#chat-{chat_id}").count() == 0
    page.click(".tabs >> text=Erledigt")
    assert page.locator(f"#chat-{chat_id} [data-role=status]").inner_text() == "Erledigt"
    with live.app.app_context():
        assert db.session.get(Chat, chat_id).status == "erledigt"
