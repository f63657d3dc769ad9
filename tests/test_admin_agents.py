"""Agenten: template first, then the form from the declaration; edit, duplicate, delete."""

from __future__ import annotations

from flask import Flask

from agents.templates import TEMPLATES
from models import Agent, KnowledgeDocument, db
from tests.admin_support import (
    Browser,
    admin,
    app,
    browser,
    make_agent,
    make_number,
    make_weekly_window,
    template_db,
)

__all__ = ["admin", "app", "browser", "template_db"]


def _agent(app: Flask, name: str) -> Agent:
    with app.app_context():
        row = db.session.scalar(db.select(Agent).filter_by(name=name))
        assert row is not None, name
        db.session.expunge(row)
        return row


def test_template_is_chosen_first(admin: Browser) -> None:
    page = admin.text("/agenten/neu")
    for template in TEMPLATES.values():
        assert template.label in page and template.description in page
        assert f'href="/agenten/neu/{template.key}"' in page
    assert admin.get("/agenten/neu/gibtsnicht").status_code == 404


def test_form_is_rendered_from_the_declaration_in_german(admin: Browser) -> None:
    page = admin.text("/agenten/neu/operator")
    operator = TEMPLATES["operator"]
    for param in operator.parameters:
        assert param.label in page
    assert operator.parameter("targets").help.split("„")[0][:40] in page
    assert 'name="max_followups" type="number" value="2"' in page and 'min="0"' in page
    assert 'type="radio" name="default_target"' in page
    workflow = admin.text("/agenten/neu/workflow")
    assert 'value="Wie ist Ihr Name?"' in workflow  # default steps prefilled
    assert 'name="confirm" value="1" checked' in workflow


def test_validation_messages_stand_next_to_their_field(app: Flask, admin: Browser) -> None:
    with app.app_context():
        make_agent("Zentrale")
        db.session.commit()
    response = admin.post("/agenten/neu/operator", {
        "name": "", "max_followups": "9",
        "targets-label": ["Buchhaltung"], "targets-kind": ["number"],
        "targets-number": ["keine Nummer"], "targets-key": [""], "targets-agent_id": [""],
        "targets-keywords": [""], "targets-description": [""]})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="error-name" role="alert">Pflichtfeld' in page
    assert 'id="error-max_followups" role="alert">Muss zwischen 0 und 5 liegen' in page
    assert 'id="error-targets" role="alert">Ziel 1 „Buchhaltung“: Keine gültige Telefonnummer' \
        in page
    assert 'id="error-default_target" role="alert">Pflichtfeld' in page
    assert 'value="Buchhaltung"' in page  # what was typed stays
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Agent.id))) == 1


def _operator_form(name: str, **extra) -> dict:
    return {"name": name, "greeting": "Firma Beispiel, guten Tag!", "max_followups": "1",
            "targets-label": ["Buchhaltung", "Technik", ""],
            "targets-kind": ["number", "number", "number"],
            "targets-number": ["+49 30 1111", "+49 30 2222", ""],
            "targets-agent_id": ["", "", ""], "targets-key": ["", "", ""],
            "targets-keywords": ["Rechnung, Mahnung", "Störung", ""],
            "targets-description": ["", "", ""], "default_target": "1", "language": "de",
            "form_of_address": "Sie", "endpoint_silence_ms": "700", **extra}


def test_create_operator_then_edit_it(app: Flask, admin: Browser) -> None:
    response = admin.post("/agenten/neu/operator", _operator_form("Empfang"))
    assert response.status_code == 302
    assert "Agent „Empfang“ angelegt." in admin.text("/agenten/")
    agent = _agent(app, "Empfang")
    assert agent.template == "operator" and agent.endpoint_silence_ms == 700
    assert agent.params["default_target"] == "technik"
    assert agent.params["targets"][0] == {
        "key": "buchhaltung", "label": "Buchhaltung", "kind": "number", "number": "+49 30 1111",
        "keywords": ["Rechnung", "Mahnung"], "description": ""}
    page = admin.text(f"/agenten/{agent.id}")
    assert 'value="Rechnung, Mahnung"' in page
    assert 'name="default_target" value="1" checked' in page
    response = admin.post(f"/agenten/{agent.id}", _operator_form(
        "Empfang neu", default_target="0", form_of_address="Du"))
    assert response.status_code == 302
    agent = _agent(app, "Empfang neu")
    assert agent.params["default_target"] == "buchhaltung" and agent.form_of_address == "Du"


def test_create_workflow_voicemail_and_knowledge_agents(app: Flask, admin: Browser) -> None:
    response = admin.post("/agenten/neu/workflow", {
        "name": "Aufnahme", "steps-question": ["Wie heißen Sie?", "Was ist passiert?", ""],
        "steps-kind": ["name", "text", "text"], "steps-key": ["", "", ""],
        "webhooks-label": ["CRM"], "webhooks-url": ["https://crm.example/hook"],
        "webhooks-key": [""], "webhooks-description": [""]})
    assert response.status_code == 302
    workflow = _agent(app, "Aufnahme")
    assert [s["question"] for s in workflow.params["steps"]] == ["Wie heißen Sie?",
                                                                 "Was ist passiert?"]
    assert workflow.params["confirm"] is False  # checkbox left empty
    assert workflow.params["webhooks"][0]["key"] == "crm"

    response = admin.post("/agenten/neu/voicemail", {"name": "Mailbox",
                                                     "ask_name": "Wie ist Ihr Name?"})
    assert response.status_code == 302
    assert _agent(app, "Mailbox").params["ask_name"] == "Wie ist Ihr Name?"

    response = admin.post("/agenten/neu/knowledge", {"name": "FAQ", "topic": "Öffnungszeiten"})
    assert response.status_code == 302 and response.location.endswith("#wissen")
    faq = _agent(app, "FAQ")
    page = admin.text(f"/agenten/{faq.id}")
    assert "Noch keine Dokumente." in page
    from io import BytesIO

    response = admin.post(f"/agenten/{faq.id}/wissen", {
        "dokument": (BytesIO("Wir haben montags bis freitags von 8 bis 17 Uhr geöffnet."
                             .encode()), "zeiten.txt")}, content_type="multipart/form-data")
    page = admin.text(response.location)
    assert "„zeiten.txt“ hochgeladen (1 Abschnitt)." in page
    assert "0,1 KB, 1 Abschnitt</td>" in page  # German decimal comma, singular
    response = admin.post(f"/agenten/{faq.id}/wissen", {
        "dokument": (BytesIO(b"MZ..."), "virus.exe")}, content_type="multipart/form-data")
    assert "wurde nicht übernommen: Dateityp nicht unterstützt" in admin.text(response.location)
    with app.app_context():
        doc = db.session.scalar(db.select(KnowledgeDocument))
        assert doc.agent_id == faq.id
    admin.post(f"/agenten/{faq.id}/wissen/{doc.id}/loeschen")
    assert "Noch keine Dokumente." in admin.text(f"/agenten/{faq.id}")


def test_duplicate_makes_an_editable_copy(app: Flask, admin: Browser) -> None:
    admin.post("/agenten/neu/operator", _operator_form("Empfang"))
    original = _agent(app, "Empfang")
    response = admin.post(f"/agenten/{original.id}/duplizieren")
    copy = _agent(app, "Empfang (Kopie)")
    assert response.location == f"/agenten/{copy.id}"
    assert copy.params == original.params and copy.id != original.id


def test_delete_warns_about_the_windows_that_go_too(app: Flask, admin: Browser) -> None:
    with app.app_context():
        agent = make_agent("Nachtdienst")
        number = make_number()
        make_weekly_window(number, agent, "Abends", [(0, "18:00", "22:00")])
        make_weekly_window(number, agent, "Wochenende", [(5, "00:00", "00:00")])
        db.session.commit()
        agent_id = agent.id
    page = admin.text(f"/agenten/{agent_id}/loeschen")
    assert "werden mit gelöscht" in page
    assert "„Abends“ (Zentrale)" in page and "„Wochenende“ (Zentrale)" in page
    response = admin.post(f"/agenten/{agent_id}/loeschen")
    assert "Agent „Nachtdienst“ gelöscht, dazu 2 Zeitfenster." in admin.text(response.location)
    with app.app_context():
        assert db.session.get(Agent, agent_id) is None
