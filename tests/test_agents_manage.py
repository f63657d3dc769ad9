"""Managing agents on a real SQLite database: validation, create/edit/duplicate/delete, demo."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest
from sqlalchemy import select

from agents.actions import Say, Transfer
from agents.demo import DEMO_NUMBER, seed_demo
from agents.directory import AgentDirectory
from agents.knowledge import KnowledgeBase
from agents.manage import (
    AgentInvalid,
    agents_referencing,
    create_agent,
    delete_agent,
    duplicate_agent,
    update_agent,
    windows_using,
)
from agents.runtime import Conversation
from agents.validation import validate_agent
from models import (
    Agent,
    CustomerSettings,
    KnowledgeDocument,
    TimeWindow,
    create_db_app,
    db,
    upgrade_schema,
)


@pytest.fixture()
def session(tmp_path: Path):
    app = create_db_app(f"sqlite:///{tmp_path / 'voicegate.sqlite3'}")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'get_engine' is deprecated", DeprecationWarning)
        upgrade_schema(app)
    logging.getLogger("agents").disabled = False
    with app.app_context():
        yield db.session
        db.session.remove()
        db.engine.dispose()


def never(_agent_id: int) -> bool:
    return False


def always(_agent_id: int) -> bool:
    return True


TARGETS = [{"key": "buero", "label": "Büro", "kind": "number", "number": "+49 30 1234567"}]


def test_a_half_filled_operator_names_every_missing_field():
    assert validate_agent("operator", {}, agent_exists=always) == {
        "targets": "Pflichtfeld", "default_target": "Pflichtfeld"}


@pytest.mark.parametrize(("params", "field", "message"), [
    ({"targets": "0301234", "default_target": "x"}, "targets",
     "Muss eine Liste von Zielen sein"),
    ({"targets": [{"label": "Büro", "kind": "number", "number": "0171-abc"}],
      "default_target": "buero"}, "targets", "Ziel 1 „Büro“: Keine gültige Telefonnummer"),
    ({"targets": TARGETS, "default_target": "buero", "max_followups": "zwei"},
     "max_followups", "Muss eine Zahl sein"),
    ({"targets": TARGETS, "default_target": "buero", "max_followups": 9},
     "max_followups", "Muss zwischen 0 und 5 liegen"),
    ({"targets": TARGETS, "default_target": "buero", "greeting": 42}, "greeting",
     "Muss ein Text sein"),
    ({"targets": TARGETS, "default_target": "keller"}, "default_target",
     "Das Standardziel ist keines der Weiterleitungsziele"),
])
def test_wrong_parameter_types_are_reported_on_their_field(params, field, message):
    assert validate_agent("operator", params, agent_exists=always)[field] == message


def test_a_target_naming_a_deleted_agent_is_reported():
    params = {"targets": [{"label": "Notdienst", "kind": "agent", "agent_id": 99}],
              "default_target": "notdienst"}
    assert validate_agent("operator", params, agent_exists=never) == {
        "targets": "Ziel 1 „Notdienst“: Agent existiert nicht mehr"}


def test_unknown_template_and_bad_webhook_url():
    assert validate_agent("zauberer", {}, agent_exists=always) == {
        "template": "Unbekannte Vorlage"}
    errors = validate_agent("workflow", {"webhooks": [{"label": "CRM", "url": "ftp://x"}]},
                            agent_exists=always)
    assert errors == {"webhooks": "Webhook 1: Keine gültige URL"}


def test_create_requires_a_name_and_fills_template_defaults(session):
    with pytest.raises(AgentInvalid) as caught:
        create_agent(session, "operator", "  ", {"targets": TARGETS, "default_target": "buero"})
    assert caught.value.errors == {"name": "Pflichtfeld"}
    agent = create_agent(session, "operator", "Empfang",
                         {"targets": TARGETS, "default_target": "buero"})
    assert agent.params["max_followups"] == 2
    assert validate_agent("voicemail", {}, agent_exists=always) == {}


def test_update_validates_and_duplicate_copies_values_and_documents(session):
    from agents.knowledge.store import add_document

    agent = create_agent(session, "knowledge", "Info", {"topic": "Praxis"})
    add_document(session, agent.id, "faq.txt", "Wir haben montags geöffnet.".encode())
    with pytest.raises(AgentInvalid):
        update_agent(session, agent, params={"greeting": ["kein", "Text"]})
    update_agent(session, agent, name="Infotelefon", form_of_address="Du")
    copy = duplicate_agent(session, agent)
    assert (copy.name, copy.template, copy.form_of_address) == (
        "Infotelefon (Kopie)", "knowledge", "Du")
    kb = KnowledgeBase.load(session)
    assert kb.search(copy.id, "Wann haben Sie geöffnet?")[0].source == "faq.txt"


def test_delete_reports_the_windows_that_go_with_the_agent(session):
    seed_demo(session)
    ab = session.scalar(select(Agent).where(Agent.name == "Anrufbeantworter"))
    names = [w.name for w in windows_using(session, ab.id)]
    assert names == ["Außerhalb der Sprechzeiten", "Praxisurlaub zwischen den Jahren"]
    assert [a.name for a in agents_referencing(session, ab.id)] == ["Empfang"]
    gone = delete_agent(session, ab)
    assert [(w.name, w.phone_number.number) for w in gone] == [
        ("Außerhalb der Sprechzeiten", DEMO_NUMBER),
        ("Praxisurlaub zwischen den Jahren", DEMO_NUMBER)]
    session.commit()
    assert session.scalars(select(TimeWindow).where(TimeWindow.agent_id == ab.id)).all() == []
    empfang = session.scalar(select(Agent).where(Agent.name == "Empfang"))
    errors = validate_agent(empfang.template, empfang.params,
                            agent_exists=lambda i: session.get(Agent, i) is not None)
    assert errors == {"targets": "Ziel 4 „unserem Anrufbeantworter“: Agent existiert nicht mehr"}


def test_deleting_a_knowledge_agent_deletes_its_documents(session):
    seed_demo(session)
    info = session.scalar(select(Agent).where(Agent.name == "Praxis-Info"))
    delete_agent(session, info)
    session.commit()
    assert session.scalars(select(KnowledgeDocument)).all() == []


def test_demo_seed_is_idempotent_and_every_agent_is_valid(session):
    first = seed_demo(session)
    session.commit()
    second = seed_demo(session)
    assert first["created"] and not second["created"]
    assert first["agents"] == second["agents"]
    agents = session.scalars(select(Agent)).all()
    assert sorted(a.name for a in agents) == ["Anrufbeantworter", "Empfang", "Notdienst",
                                              "Praxis-Info"]
    for agent in agents:
        assert validate_agent(agent.template, agent.params,
                              agent_exists=lambda i: session.get(Agent, i) is not None) == {}
    settings = session.get(CustomerSettings, 1)
    assert settings.name == "Zahnarztpraxis Dr. Sommer" and "Termin" in settings.tag_choices


def test_a_demo_call_in_keyword_mode_reaches_the_knowledge_agent(session):
    seed_demo(session)
    directory = AgentDirectory.load(session)
    empfang = next(p for p in directory if p.name == "Empfang")
    conv = Conversation(empfang, directory, None, knowledge=KnowledgeBase.load(session))
    assert [a.text for a in conv.greet()] == ["Zahnarztpraxis Dr. Sommer, guten Tag!",
                                              "Worum geht es bei Ihnen?"]
    list(conv.on_caller("Ich habe eine Frage zu den Öffnungszeiten"))
    assert conv.agent.name == "Praxis-Info"
    answer = [a.text for a in conv.on_caller("Wann haben Sie am Mittwoch geöffnet?")
              if isinstance(a, Say)]
    assert any("Mittwochnachmittag ist die Praxis geschlossen" in s for s in answer)
    unknown = [a.text for a in conv.on_caller("Bieten Sie auch Bleaching an?")
               if isinstance(a, Say)]
    assert unknown[0] == "Das weiß ich leider nicht."
    last = list(conv.on_caller("Dann möchte ich bitte einen Mitarbeiter sprechen"))
    assert last[-1] == Transfer(number="4930123458", label="der Rezeption")
    assert directory.fallback_number == "4930123450"
