"""Operator-Bot: routing with an LLM (structured output) and in keyword mode."""

from __future__ import annotations

import pytest

from agents.actions import AgentProfile, EndCall, HandOver, Say, ToolUsed, Transfer
from agents.directory import AgentDirectory
from agents.runtime import Conversation
from media.engines import EngineError
from media.testing import ScriptedLLM

TARGETS = [
    {"key": "rechnung", "label": "Buchhaltung", "kind": "number", "number": "4930111",
     "keywords": ["Rechnung", "Zahlung", "Mahnung"]},
    {"key": "termin", "label": "Terminvergabe", "kind": "agent", "agent_id": 2,
     "keywords": ["Termin", "Terminvereinbarung"]},
    {"key": "zentrale", "label": "Zentrale", "kind": "number", "number": "4930100"},
]


def operator(**params) -> AgentProfile:
    values = {"greeting": "Praxis Dr. Sommer, guten Tag! Wie kann ich Ihnen helfen?",
              "targets": TARGETS, "default_target": "zentrale", "max_followups": 2}
    values.update(params)
    return AgentProfile(1, "Empfang", "operator", values)


TERMINE = AgentProfile(2, "Termine", "operator", {
    "greeting": "Hier ist die Terminvergabe, was kann ich für Sie tun?",
    "targets": [TARGETS[0], {"key": "empfang", "label": "Empfang", "kind": "agent",
                             "agent_id": 1}],
    "default_target": "rechnung",
})


def conversation(llm=None, **params) -> Conversation:
    profile = operator(**params)
    return Conversation(profile, AgentDirectory([profile, TERMINE]), llm)


def texts(actions) -> list[str]:
    return [a.text for a in actions if isinstance(a, Say)]


def final(actions):
    return actions[-1]


def test_greeting_is_the_configured_first_line():
    actions = list(conversation().greet())
    assert texts(actions) == ["Praxis Dr. Sommer, guten Tag!", "Wie kann ich Ihnen helfen?"]


def test_without_greeting_the_agent_greets_in_its_form_of_address():
    profile = AgentProfile(1, "Empfang", "operator", {"targets": TARGETS,
                                                      "default_target": "zentrale"},
                           form_of_address="Du")
    actions = list(Conversation(profile, AgentDirectory([profile]), None).greet())
    assert texts(actions) == ["Hallo, wie kann ich dir helfen?"]


@pytest.mark.parametrize("heard", [
    "Ich habe eine Frage zu meiner Rechnung",
    "es geht um die Rechnungen von letztem Monat",
    "Ich hab da ne Rechnungsfrage",
    "ich habe eine rechnug bekommen",  # typo / mis-transcription
    "RECHNUNG!",
    "Ich habe eine Mahnung erhalten",
])
def test_keyword_mode_routes_german_variants_to_the_number(heard):
    actions = list(conversation().on_caller(heard))
    assert final(actions) == Transfer(number="4930111", label="Buchhaltung")
    assert texts(actions) == ["Einen Moment bitte, ich verbinde Sie mit Buchhaltung."]


def test_keyword_mode_hands_over_to_an_agent_whose_greeting_follows():
    conv = conversation()
    actions = list(conv.on_caller("Ich möchte einen Termin vereinbaren"))
    kinds = [type(a) for a in actions]
    assert kinds == [ToolUsed, Say, HandOver, Say]
    assert actions[2].to.name == "Termine"
    assert texts(actions) == ["Einen Moment bitte, ich verbinde Sie mit Terminvergabe.",
                              "Hier ist die Terminvergabe, was kann ich für Sie tun?"]
    assert conv.agent.name == "Termine"
    # context carries over: the new agent sees what the caller said before
    assert any(m.role == "user" and "Termin" in m.content for m in conv.history)


def test_keyword_mode_asks_again_then_forwards_to_the_default_target():
    conv = conversation(max_followups=2)
    first = list(conv.on_caller("Hallo, ich hätte da mal eine Frage"))
    assert texts(first) == ["Ich kann Sie zum Beispiel mit Buchhaltung, Terminvergabe oder "
                            "Zentrale verbinden.", "Worum geht es bei Ihnen?"]
    second = list(conv.on_caller("Ähm, naja, also wegen neulich"))
    assert not any(isinstance(a, Transfer) for a in second)
    third = list(conv.on_caller("keine Ahnung"))
    assert final(third) == Transfer(number="4930100", label="Zentrale")
    assert texts(third) == ["Ich verbinde Sie mit Zentrale, dort hilft man Ihnen weiter."]


def test_the_configured_follow_up_question_is_used():
    conv = conversation(followup_text="Geht es um einen Termin oder eine Rechnung?")
    assert texts(list(conv.on_caller("hmm"))) == ["Geht es um einen Termin oder eine Rechnung?"]


def test_llm_decision_reply_streams_before_the_answer_is_complete():
    llm = ScriptedLLM([{"reply": "Gern. Ich verbinde Sie mit der Buchhaltung.",
                        "action": "forward", "target": "rechnung"}])
    conv = conversation(llm)
    stream = conv.on_caller("Ich habe eine Frage zur Rechnung")
    first = next(stream)
    assert first == Say("Gern.")
    rest = list(stream)
    assert texts(rest) == ["Ich verbinde Sie mit der Buchhaltung."]
    assert final(rest) == Transfer(number="4930111", label="Buchhaltung")


def test_llm_decision_asks_the_llms_question_and_counts_it():
    llm = ScriptedLLM([
        {"reply": "Geht es um einen Termin oder eine Rechnung?", "action": "ask",
         "target": "none"},
        {"reply": "Worum genau geht es?", "action": "ask", "target": "none"},
        {"reply": "Können Sie das genauer sagen?", "action": "ask", "target": "none"},
    ])
    conv = conversation(llm, max_followups=2)
    assert texts(list(conv.on_caller("Hallo"))) == ["Geht es um einen Termin oder eine Rechnung?"]
    assert texts(list(conv.on_caller("Weiß nicht"))) == ["Worum genau geht es?"]
    third = list(conv.on_caller("Hm"))
    assert final(third) == Transfer(number="4930100", label="Zentrale")


def test_garbled_json_is_retried_once():
    llm = ScriptedLLM(["{\"reply\": \"Ich verb", {"reply": "Ich verbinde Sie.",
                                                   "action": "forward", "target": "rechnung"}])
    actions = list(conversation(llm).on_caller("Rechnung"))
    assert final(actions) == Transfer(number="4930111", label="Buchhaltung")
    assert len(llm.requests) == 2


def test_twice_invalid_answer_falls_back_to_the_default_target():
    llm = ScriptedLLM(["das ist kein JSON", {"reply": "x", "action": "fliegen",
                                             "target": "mond"}])
    actions = list(conversation(llm).on_caller("Rechnung"))
    assert final(actions) == Transfer(number="4930100", label="Zentrale")
    assert texts(actions) == ["Ich verbinde Sie mit Zentrale, dort hilft man Ihnen weiter."]


def test_an_llm_failure_switches_to_keyword_mode_for_the_rest_of_the_call():
    llm = ScriptedLLM([EngineError("ollama", "connection refused")])
    conv = conversation(llm)
    actions = list(conv.on_caller("Ich habe eine Frage zur Rechnung"))
    assert ToolUsed("keyword_mode", {}, "LLM nicht verfügbar: ollama: connection refused",
                    ok=False) in actions
    assert final(actions) == Transfer(number="4930111", label="Buchhaltung")
    assert conv.keyword_mode
    assert len(llm.requests) == 1


def test_llm_end_action_says_goodbye_and_hangs_up():
    llm = ScriptedLLM([{"reply": "Gern geschehen, auf Wiederhören!", "action": "end",
                        "target": "none"}])
    actions = list(conversation(llm).on_caller("Danke, das war alles"))
    assert texts(actions) == ["Gern geschehen, auf Wiederhören!"]
    assert isinstance(final(actions), EndCall)


def test_nothing_happens_after_the_call_ended():
    conv = conversation()
    list(conv.on_caller("Rechnung"))
    assert list(conv.on_caller("Hallo? Noch da?")) == []


def test_keyword_mode_caller_saying_goodbye_is_not_asked_again():
    conv = conversation()
    actions = list(conv.on_caller("Ach so, dann hat sich das erledigt. Danke, tschüss!"))
    assert texts(actions) == ["Vielen Dank für Ihren Anruf.", "Auf Wiederhören!"]
    assert final(actions) == EndCall(reason="anrufer")
    assert conv.ended


def test_summary_names_where_the_caller_was_connected_in_correct_german():
    conv = conversation()
    list(conv.on_caller("Ich habe eine Frage zu meiner Rechnung"))
    summary = conv.summarize([("caller", "Ich habe eine Frage zu meiner Rechnung")], [])
    assert summary.summary.endswith("Weiterverbunden mit Buchhaltung.")
