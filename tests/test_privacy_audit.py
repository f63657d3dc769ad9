"""The audit log (DSGVO Art. 30): every audited admin action leaves an entry with who, when and
which target — never conversation content; admins read and filter it on "Protokoll". Plus the
admin's Datenschutz and settings pages that the privacy features add."""

from __future__ import annotations

import datetime as dt
from io import BytesIO
from pathlib import Path

from flask import Flask

from admin.cli import cmd_create_user
from models import AuditEntry, Chat, CustomerSettings, PhoneNumber, Recording, db
from tests.admin_support import (
    Browser,
    admin,
    app,
    browser,
    make_agent,
    make_number,
    template_db,
)
from tests.privacy_support import add_chat

__all__ = ["admin", "app", "browser", "template_db"]

MARKER = "Kennwort-Sonnenblume"


def _entries(app: Flask) -> list[tuple[str, str, str]]:
    with app.app_context():
        return [(e.actor, e.action, e.target) for e in
                db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id))]


def _last(app: Flask) -> tuple[str, str, str]:
    return _entries(app)[-1]


def _fetch(browser: Browser, url: str, **kwargs):  # noqa: ANN202
    """A file response, closed (as the server does) once its headers are read."""
    response = browser.client.get(url, **kwargs)
    response.close()
    return response


def _operator_form(name: str) -> dict:
    return {"name": name, "greeting": "Firma Beispiel, guten Tag!", "max_followups": "1",
            "targets-label": ["Buchhaltung"], "targets-kind": ["number"],
            "targets-number": ["+49 30 1111"], "targets-agent_id": [""], "targets-key": [""],
            "targets-keywords": ["Rechnung"], "targets-description": [""],
            "default_target": "0", "language": "de", "form_of_address": "Sie",
            "endpoint_silence_ms": "700"}


def test_reading_chats_and_recordings_is_audited(app: Flask, admin: Browser) -> None:
    assert _last(app) == ("chef", "login", "Benutzer chef")
    chat_id = add_chat(app, caller_number="491701234567", started_at=dt.datetime(2026, 11, 20),
                       marker=MARKER)
    with app.app_context():
        rec_id = db.session.scalar(db.select(Recording.id).filter_by(chat_id=chat_id))
    assert MARKER in admin.text(f"/chats/{chat_id}")
    assert _last(app) == ("chef", "chat.open", f"Chat {chat_id}")
    url = f"/chats/{chat_id}/aufnahme/{rec_id}"
    assert _fetch(admin, url).status_code == 200
    assert _last(app)[1:] == ("recording.play", f"Chat {chat_id}, Aufnahme {rec_id}")
    count = len(_entries(app))
    assert _fetch(admin, url, headers={"Range": "bytes=100-"}).status_code == 206  # seeking
    assert len(_entries(app)) == count  # one playback, one entry
    response = _fetch(admin, url + "?herunterladen=1")
    assert "attachment" in response.headers["Content-Disposition"]
    assert _last(app)[1] == "recording.download"
    assert 'herunterladen=1" download' in admin.text(f"/chats/{chat_id}")


def test_export_and_erase_are_audited_and_erasing_needs_confirmation(app: Flask,
                                                                     admin: Browser) -> None:
    add_chat(app, caller_number="491701234567", started_at=dt.datetime(2026, 11, 20),
             marker=MARKER)
    admin.post("/datenschutz/export", {"nummer": "0170 1234567"}).close()
    assert _last(app) == ("chef", "data.export", "Anrufer +4917…67")
    page = admin.text("/datenschutz/loeschen?nummer=0170 1234567")
    assert "Alle Daten von +491701234567 löschen?" in page and "1 Chats" in page
    response = admin.post("/datenschutz/loeschen", {"nummer": "0170 1234567"})
    assert response.status_code == 302  # not confirmed: back to the question
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Chat.id))) == 1
    response = admin.post("/datenschutz/loeschen", {"nummer": "0170 1234567",
                                                    "bestaetigt": "ja"})
    page = admin.text(response.location)
    assert "Alle Daten von +491701234567 gelöscht: 1 Chats" in page
    assert "Für +491701234567 sind keine Daten gespeichert." in page
    assert _last(app) == ("chef", "data.erase", "Anrufer +4917…67")
    response = admin.post("/datenschutz/loeschen", {"nummer": "+49 170 1234567",
                                                    "bestaetigt": "ja"})
    assert "keine Daten gespeichert – es wurde nichts gelöscht" in admin.text(response.location)
    assert "keine Telefonnummer" in admin.get("/datenschutz/?nummer=Hallo").get_data(True)


def test_changes_to_settings_agents_numbers_and_users_are_audited(app: Flask, admin: Browser,
                                                                  tmp_path: Path) -> None:
    admin.post("/einstellungen/", {"name": "Praxis", "timezone": "Europe/Berlin",
                                   "language": "de", "chat_retention": "180",
                                   "recording_retention": "30", "audit_retention": "365"})
    actor, action, _target = _last(app)
    assert (actor, action) == ("chef", "settings.change")
    with app.app_context():
        entry = db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert {"name", "chat_retention", "recording_retention"} <= set(entry.details["fields"])
        row = CustomerSettings.get()
        assert (row.chat_retention_days, row.recording_retention_days) == (180, 30)

    admin.post("/agenten/neu/operator", _operator_form("Empfang"))
    assert _last(app)[1:] == ("agent.create", "Agent „Empfang“")
    with app.app_context():
        agent_id = db.session.scalar(db.select(db.text("id FROM agent WHERE name='Empfang'")))
    admin.post(f"/agenten/{agent_id}", _operator_form("Empfang 2"))
    assert _last(app)[1:] == ("agent.change", "Agent „Empfang 2“")
    admin.post(f"/agenten/{agent_id}/duplizieren")
    assert _last(app)[1] == "agent.create"
    admin.post("/agenten/neu/knowledge", {"name": "FAQ", "topic": "Öffnungszeiten"})
    with app.app_context():
        faq_id = db.session.scalar(db.select(db.text("id FROM agent WHERE name='FAQ'")))
    admin.post(f"/agenten/{faq_id}/wissen", {"dokument": (BytesIO(b"Montags offen."),
                                                          "zeiten.txt")},
               content_type="multipart/form-data")
    assert _last(app)[1:] == ("knowledge.upload", "Agent „FAQ“: zeiten.txt")
    with app.app_context():
        doc_id = db.session.scalar(db.select(db.text("id FROM knowledge_document")))
    admin.post(f"/agenten/{faq_id}/wissen/{doc_id}/loeschen")
    assert _last(app)[1] == "knowledge.delete"
    admin.post(f"/agenten/{agent_id}/loeschen")
    assert _last(app)[1:] == ("agent.delete", "Agent „Empfang 2“")

    admin.post("/nummern/", {"number": "+49 30 556677", "label": "Praxis"})
    assert _last(app)[1:] == ("number.create", "Nummer +4930556677")
    with app.app_context():
        number_id = db.session.scalar(db.select(PhoneNumber.id))
    admin.post(f"/nummern/{number_id}", {"label": "Zentrale"})
    assert _last(app)[1] == "number.change"
    admin.post(f"/nummern/{number_id}/fenster/neu/immer", {"name": "Immer",
                                                           "agent_id": str(faq_id)})
    assert _last(app)[1:] == ("window.create", "Nummer +4930556677: „Immer“")
    admin.post(f"/nummern/{number_id}/aufnahme", {"announcement_enabled": "on",
                                                  "announcement_text": "Wir zeichnen auf."})
    assert _last(app)[1] == "number.change"
    with app.app_context():
        number = db.session.get(PhoneNumber, number_id)
        assert not number.recording_enabled and number.announcement_enabled
    admin.post(f"/nummern/{number_id}/loeschen")
    assert _last(app)[1:] == ("number.delete", "Nummer +4930556677")

    import argparse
    import io
    import sys

    stdin, sys.stdin = sys.stdin, io.StringIO("ein-langes-passwort\n")
    try:
        cmd_create_user(argparse.Namespace(username="neu", role="user",
                                           data=Path(app.config["DATA_DIR"]),
                                           password_stdin=True))
    finally:
        sys.stdin = stdin
    actor, action, target = _last(app)
    assert actor.startswith("Kommandozeile") and (action, target) == ("user.create",
                                                                       "Benutzer neu")


def test_the_protokoll_page_is_for_admins_filterable_and_free_of_content(
        app: Flask, admin: Browser, browser: Browser) -> None:
    chat_id = add_chat(app, caller_number="491701234567", started_at=dt.datetime(2026, 11, 20),
                       marker=MARKER, name="Geheimer Name")
    admin.text(f"/chats/{chat_id}")
    admin.post("/datenschutz/export", {"nummer": "+491701234567"}).close()
    page = admin.text("/protokoll/")
    assert "Chat geöffnet" in page and f"Chat {chat_id}" in page and "Daten exportiert" in page
    assert MARKER not in page and "Geheimer Name" not in page and "1234567" not in page
    only_exports = admin.text("/protokoll/?aktion=data.export")
    assert "Daten exportiert" in only_exports and f"Chat {chat_id}</td>" not in only_exports
    by_number = admin.text("/protokoll/?ziel=0170 1234567")  # found by the keyed hash
    assert "Daten exportiert" in by_number and "Chat geöffnet</td>" not in by_number
    assert "Angemeldet" in admin.text("/protokoll/?benutzer=chef")
    assert "kein gültiges Datum" in admin.text("/protokoll/?von=gestern")
    browser.login("empfang")
    assert browser.get("/protokoll/").status_code == 403
    assert browser.get("/datenschutz/").status_code == 403


def test_retention_settings_show_unlimited_and_reject_bad_input(app: Flask,
                                                                admin: Browser) -> None:
    page = admin.text("/einstellungen/")
    assert page.count("Derzeit: unbegrenzt") == 2 and "Derzeit: 365 Tage" in page
    base = {"name": "", "timezone": "Europe/Berlin", "language": "de"}
    response = admin.post("/einstellungen/", {**base, "chat_retention": "0"})
    assert response.status_code == 400
    assert "zwischen 1 und 3650" in response.get_data(as_text=True)
    response = admin.post("/einstellungen/", {**base, "chat_retention": "30",
                                              "recording_retention": "90"})
    assert response.status_code == 400
    assert "höchstens 30 Tage" in response.get_data(as_text=True)
    response = admin.post("/einstellungen/", {**base, "chat_retention": "",
                                              "recording_retention": "", "audit_retention": ""})
    assert response.status_code == 302
    page = admin.text("/einstellungen/")
    assert page.count("Derzeit: unbegrenzt") == 3
    assert admin.text("/datenschutz/").count("unbegrenzt") == 3


def test_the_chat_says_when_recording_was_off(app: Flask, admin: Browser) -> None:
    with app.app_context():
        make_agent()
        make_number()
        db.session.commit()
    chat_id = add_chat(app, caller_number="491701234567", started_at=dt.datetime(2026, 11, 20),
                       recording=False)
    with app.app_context():
        from models import ChatEvent

        db.session.add(ChatEvent(chat_id=chat_id, seq=9, kind="recording_off", data={}))
        db.session.commit()
    page = admin.text(f"/chats/{chat_id}")
    assert "Für diesen Anruf war die Aufnahme ausgeschaltet" in page
