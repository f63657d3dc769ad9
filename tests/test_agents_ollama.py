"""Each shipped template through the real `ollama` client against the Ollama-protocol server:
structured output goes out as Ollama's ``format``, tools as ``tools``, answers stream back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agents.actions import AgentProfile, EndCall, HandOver, Say, ToolUsed, Transfer
from agents.directory import AgentDirectory
from agents.knowledge import KnowledgeBase
from agents.runtime import Conversation
from media.engines import ToolCall
from media.llm.ollama import OllamaLLM
from tests.ollama_server import DEFAULT_MODEL, OllamaServer


@pytest.fixture()
def server() -> Iterator[OllamaServer]:
    with OllamaServer() as srv:
        yield srv


@pytest.fixture()
def llm(server: OllamaServer) -> Iterator[OllamaLLM]:
    engine = OllamaLLM(DEFAULT_MODEL, host=server.url, timeout_s=5.0)
    yield engine
    engine.close()


TARGETS = [
    {"key": "rechnung", "label": "Buchhaltung", "kind": "number", "number": "4930111"},
    {"key": "info", "label": "Infotelefon", "kind": "agent", "agent_id": 2},
    {"key": "zentrale", "label": "Zentrale", "kind": "number", "number": "4930100"},
]
EMPFANG = AgentProfile(1, "Empfang", "operator", {
    "greeting": "Praxis Dr. Sommer, guten Tag!", "targets": TARGETS,
    "default_target": "zentrale"})
INFO = AgentProfile(2, "Praxis-Info", "knowledge", {
    "greeting": "Infotelefon, was möchten Sie wissen?",
    "targets": [{"key": "ab", "label": "Anrufbeantworter", "kind": "agent", "agent_id": 3}]})
AB = AgentProfile(3, "Anrufbeantworter", "voicemail", {})
DIRECTORY = AgentDirectory([EMPFANG, INFO, AB])
KB = KnowledgeBase.from_texts(2, [("zeiten.txt", "Die Praxis ist montags bis freitags von 8 bis "
                                                 "18 Uhr geöffnet.")])


def said(actions) -> list[str]:
    return [a.text for a in actions if isinstance(a, Say)]


def test_operator_sends_a_json_schema_as_format_and_transfers(server, llm):
    server.add({"reply": "Ich verbinde Sie mit der Buchhaltung.", "action": "forward",
                "target": "rechnung"})
    conv = Conversation(EMPFANG, DIRECTORY, llm)
    list(conv.greet())
    actions = list(conv.on_caller("Ich habe eine Frage zu meiner Rechnung"))
    assert said(actions) == ["Ich verbinde Sie mit der Buchhaltung."]
    assert actions[-1] == Transfer(number="4930111", label="Buchhaltung")
    body = server.requests[0]
    assert body["format"]["properties"]["target"]["enum"] == ["rechnung", "info", "zentrale",
                                                              "none"]
    assert [m["role"] for m in body["messages"]] == ["system", "assistant", "user"]


def test_a_whole_call_operator_to_wissen_to_voicemail(server, llm):
    server.add(
        {"reply": "Ich verbinde Sie mit dem Infotelefon.", "action": "forward",
         "target": "info"},
        "Wir haben montags bis freitags von 8 bis 18 Uhr geöffnet.",
        ToolCall("handover", {"target": "ab"}),
        {"name": "Anna Berger", "rueckrufnummer": "", "anliegen": ""},
    )
    conv = Conversation(EMPFANG, DIRECTORY, llm, knowledge=KB)
    list(conv.greet())
    first = list(conv.on_caller("Wann haben Sie geöffnet?"))
    assert isinstance(first[-2], HandOver) and said(first)[-1] == (
        "Infotelefon, was möchten Sie wissen?")
    second = list(conv.on_caller("Wann haben Sie geöffnet?"))
    assert said(second) == ["Wir haben montags bis freitags von 8 bis 18 Uhr geöffnet."]
    assert "[zeiten.txt]" in server.requests[1]["messages"][0]["content"]
    assert {t["function"]["name"] for t in server.requests[1]["tools"]} == {
        "knowledge_lookup", "handover", "end_call"}
    third = list(conv.on_caller("Ich möchte eine Nachricht hinterlassen"))
    assert ToolUsed("handover", {"target": "ab"}, "Anrufbeantworter") in third
    assert said(third)[-1] == "Wie ist Ihr Name, bitte?"
    fourth = list(conv.on_caller("Anna Berger"))
    assert said(fourth) == ["Unter welcher Nummer können wir Sie zurückrufen?"]
    list(conv.on_caller("null drei null eins zwei drei"))
    list(conv.on_caller("ja"))
    server.add({"name": "", "rueckrufnummer": "", "anliegen": "Bitte um Rückruf"})
    last = list(conv.on_caller("Bitte um Rückruf wegen meiner Rechnung"))
    assert last[-1] == EndCall(reason="erledigt")
    assert conv.facts == {"name": "Anna Berger", "callback": "030123",
                          "anliegen": "Bitte um Rückruf"}
    # context carried over: the voicemail's extraction saw the whole conversation
    contents = [m.get("content") for m in server.requests[-1]["messages"]]
    assert "Wann haben Sie geöffnet?" in contents


def test_workflow_with_llm_extraction(server, llm):
    profile = AgentProfile(5, "Termin", "workflow", {"steps": [
        {"key": "name", "question": "Ihr Name?", "kind": "name"},
        {"key": "wunsch", "question": "Ihr Terminwunsch?", "kind": "date"}], "confirm": False})
    server.add({"name": "Jonas Weber", "wunsch": "Montag früh"})
    conv = Conversation(profile, AgentDirectory([profile]), llm)
    list(conv.greet())
    actions = list(conv.on_caller("Jonas Weber, ich hätte gern Montag früh einen Termin"))
    assert actions[-1] == EndCall(reason="erledigt")
    assert conv.facts == {"name": "Jonas Weber", "wunsch": "Montag früh"}
    assert set(server.requests[0]["format"]["required"]) == {"name", "wunsch"}


def test_model_missing_on_the_server_falls_back_to_keyword_mode(server):
    engine = OllamaLLM("gibt-es-nicht", host=server.url, timeout_s=5.0)
    profile = AgentProfile(1, "Empfang", "operator", {
        "targets": [{**TARGETS[0], "keywords": ["Rechnung"]}, TARGETS[2]],
        "default_target": "zentrale"})
    conv = Conversation(profile, AgentDirectory([profile]), engine)
    actions = list(conv.on_caller("Es geht um eine Rechnung"))
    engine.close()
    assert conv.keyword_mode
    assert actions[-1] == Transfer(number="4930111", label="Buchhaltung")


def test_summary_through_ollama_is_validated_and_tags_filtered(server, llm):
    server.add({"summary": "Frau Berger bittet um Rückruf wegen einer Rechnung. Sie ist "
                           "vormittags erreichbar.", "tags": ["Rechnung", "Rückruf"],
                "caller_name": "Anna Berger"})
    conv = Conversation(EMPFANG, DIRECTORY, llm)
    result = conv.summarize([("agent", "Guten Tag!"), ("caller", "Hier Anna Berger, Rechnung")],
                            ["Rechnung", "Rückruf", "Termin"])
    assert result.summary == ("Frau Berger bittet um Rückruf wegen einer Rechnung. Sie ist "
                              "vormittags erreichbar.")
    assert result.tags == ["Rechnung", "Rückruf"] and result.caller_name == "Anna Berger"
    assert not result.is_extract
    assert server.requests[0]["format"]["properties"]["tags"]["items"]["enum"] == [
        "Rechnung", "Rückruf", "Termin"]
