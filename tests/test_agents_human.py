"""A caller who asks for a person gets one, in keyword mode too: no more follow-up questions."""

from __future__ import annotations

import pytest

from agents.actions import AgentProfile, Transfer
from agents.directory import AgentDirectory
from agents.keywords import wants_human
from agents.runtime import Conversation

TARGETS = [
    {"key": "termin", "label": "der Terminvergabe", "kind": "number", "number": "4930111",
     "keywords": ["Termin"]},
    {"key": "rezeption", "label": "der Rezeption", "kind": "number", "number": "4930100",
     "keywords": ["Rezept"]},
]
EMPFANG = AgentProfile(1, "Empfang", "operator", {"targets": TARGETS,
                                                  "default_target": "rezeption",
                                                  "max_followups": 2})
INFO = AgentProfile(2, "Praxis-Info", "knowledge", {})


@pytest.mark.parametrize("said", [
    "Kann ich bitte mit jemandem sprechen?",
    "Ich möchte mit einem Menschen reden",
    "Verbinden Sie mich mit einem Mitarbeiter",
    "Ich will keinen Roboter",
])
def test_asking_for_a_person_is_recognised(said):
    assert wants_human(said)


@pytest.mark.parametrize("said", ["Ich brauche einen Termin", "Wann haben Sie geöffnet?",
                                  "Ich habe jemanden gesehen, der gestürzt ist"])
def test_ordinary_concerns_are_not_a_request_for_a_person(said):
    assert not wants_human(said)


def test_operator_goes_straight_to_the_default_target():
    conv = Conversation(EMPFANG, AgentDirectory([EMPFANG]), None)
    list(conv.greet())
    actions = list(conv.on_caller("Kann ich bitte mit jemandem sprechen?"))
    assert actions[-1] == Transfer(number="4930100", label="der Rezeption")


def test_knowledge_agent_without_targets_hands_the_caller_to_the_fallback_number():
    conv = Conversation(INFO, AgentDirectory([INFO], fallback_number="4930999"), None)
    list(conv.greet())
    actions = list(conv.on_caller("Kann ich bitte mit jemandem sprechen?"))
    assert isinstance(actions[-1], Transfer) and actions[-1].number == "4930999"


def test_extract_summary_quotes_the_concern_not_the_filler():
    from agents.summary import extract_summary

    result = extract_summary([("agent", "Guten Tag!"), ("caller", "Ähm."),
                              ("caller", "Ja hallo?"),
                              ("caller", "Ich brauche ein neues Rezept.")], ["Rezept"])
    assert result.summary == "Anliegen des Anrufers: „Ich brauche ein neues Rezept“."
    assert result.tags == ["Rezept"] and result.is_extract


AB = AgentProfile(3, "Anrufbeantworter", "voicemail", {})


def test_voicemail_explains_when_asked_for_a_person_and_does_not_store_it_as_the_name():
    conv = Conversation(AB, AgentDirectory([AB]), None)
    list(conv.greet())
    said = [a.text for a in conv.on_caller("Kann ich bitte mit jemandem sprechen?")
            if hasattr(a, "text")]
    assert said[0].startswith("Leider ist gerade niemand persönlich erreichbar")
    assert said[-1] == "Wie ist Ihr Name, bitte?"
    assert "name" not in conv.facts
    list(conv.on_caller("Anna Berger"))
    assert conv.facts["name"] == "Anna Berger"


def test_voicemail_ends_politely_on_a_bare_goodbye():
    from agents.actions import EndCall

    conv = Conversation(AB, AgentDirectory([AB]), None)
    list(conv.greet())
    actions = list(conv.on_caller("Nein danke, tschüss."))
    assert isinstance(actions[-1], EndCall)
    assert "name" not in conv.facts and "anliegen" not in conv.facts
