"""A Wissen agent answers a caller from a document the customer uploaded, on a node without an
LLM (keyword mode reads the matching passage) — and says it does not know otherwise."""

from __future__ import annotations

from agents.knowledge import store
from esl_controller.testing import HangUp, Say, WaitForAgentAudio, WaitForAgentSilence
from media.testing import ScriptedSTT
from models import Agent, PhoneNumber, TimeWindow, db
from tests.call_lab import NUMBER

DOCUMENT = """# Praxisinformationen

## Öffnungszeiten
Die Praxis ist Montag bis Freitag von 8 bis 18 Uhr geöffnet.

## Parken
Parkplätze finden Sie im Hof hinter dem Haus, die Einfahrt ist in der Gartenstraße.
"""


def test_wissen_agent_answers_from_the_uploaded_document_without_an_llm(call_lab):
    call_lab.stt = ScriptedSTT(["Wo kann ich parken?", "Haben Sie einen Aufzug?"])
    call_lab.llm = None
    call_lab.start().seed_practice(with_window=False)
    with call_lab.node.db_app.app_context():
        agent = Agent(name="Praxis-Info", template="knowledge",
                      params={"greeting": "Praxis-Info, was möchten Sie wissen?",
                              "unknown_answer": "Das weiß ich leider nicht."})
        db.session.add(agent)
        db.session.flush()
        store.add_document(db.session, agent.id, "praxis.md", DOCUMENT.encode())
        phone = db.session.scalar(db.select(PhoneNumber).filter_by(number=NUMBER))
        db.session.add(TimeWindow(phone_number_id=phone.id, agent_id=agent.id, name="Immer",
                                  kind="immer"))
        db.session.commit()

    standin = call_lab.standin()
    standin.run([WaitForAgentAudio(timeout_s=10), WaitForAgentSilence(silence_s=0.5),
                 Say(text="Wo kann ich parken?"), WaitForAgentAudio(timeout_s=10),
                 WaitForAgentSilence(silence_s=0.5), Say(text="Haben Sie einen Aufzug?"),
                 WaitForAgentAudio(timeout_s=10), WaitForAgentSilence(silence_s=1.0), HangUp()],
                timeout_s=30)
    chat = call_lab.chat(standin.uuid)
    agent_lines = [text for role, text in chat.transcript if role == "agent"]
    assert agent_lines[0] == "Praxis-Info, was möchten Sie wissen?"
    assert "Gartenstraße" in agent_lines[1]
    assert "weiß ich leider nicht" in agent_lines[2]
