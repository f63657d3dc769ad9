"""Bad input gets a defined behaviour: empty or endless transcripts, broken LLM answers, broken
configuration, loops, interruptions."""

from __future__ import annotations

from agents.actions import AgentProfile, EndCall, HandOver, Say, ToolUsed, Transfer
from agents.directory import AgentDirectory
from agents.runtime import MAX_UTTERANCE_CHARS, Conversation
from media.engines import ChatMessage, EngineError, EngineTimeout, ToolCall
from media.llm.context import estimate_tokens, fit_messages
from media.testing import ScriptedLLM


def said(actions) -> list[str]:
    return [a.text for a in actions if isinstance(a, Say)]


def operator(agent_id: int, targets: list[dict], default: str, **extra) -> AgentProfile:
    return AgentProfile(agent_id, f"Agent {agent_id}", "operator",
                        {"targets": targets, "default_target": default, "greeting": f"Hier "
                         f"{agent_id}.", **extra})


OFFICE = {"key": "buero", "label": "Büro", "kind": "number", "number": "4930100"}


def test_empty_transcripts_ask_again_then_say_goodbye():
    profile = operator(1, [OFFICE], "buero")
    conv = Conversation(profile, AgentDirectory([profile]), None)
    first = list(conv.on_caller(""))
    assert said(first) == ["Entschuldigung, das habe ich nicht verstanden.",
                           "Können Sie das bitte wiederholen?"]
    list(conv.on_caller("   "))
    last = list(conv.on_caller("\n"))
    assert said(last) == ["Vielen Dank für Ihren Anruf.", "Auf Wiederhören!"]
    assert last[-1] == EndCall(reason="stille")
    assert conv.history == []  # silence is not sent to the LLM


def test_a_twenty_minute_monologue_keeps_the_context_bounded():
    llm = ScriptedLLM(default='{"reply": "Verstehe.", "action": "ask", "target": "none"}')
    profile = operator(1, [OFFICE], "buero", max_followups=50)
    conv = Conversation(profile, AgentDirectory([profile]), llm)
    sentence = "Und dann hat mein Nachbar wieder über den Zaun gerufen, stellen Sie sich das vor. "
    monologue = sentence * 2000  # ~20 minutes of speech in one utterance (160,000 characters)
    list(conv.on_caller(monologue))
    user = conv.history[0].content
    assert len(user) <= MAX_UTTERANCE_CHARS + 3 and " … " in user
    answers = []
    for turn in range(40):  # and as many utterances in a row: the agent answers every one
        answers.append(said(conv.on_caller(f"Punkt {turn}: " + sentence * 30)))
        if conv.ended:
            break
    assert all(answers) and not conv.ended
    # what the model is sent: the system prompt, the newest turn, inside its context window
    request = llm.requests[-1][0]
    fitted = fit_messages(request, 2048 - 512)
    assert fitted[0] == request[0] and fitted[0].role == "system"
    assert fitted[-1] == request[-1] and "Punkt 39:" in fitted[-1].content
    assert sum(estimate_tokens(m) for m in fitted) <= 2048 - 512
    assert [m.role for m in fitted if m.role != "system"][0] == "user"


def test_the_history_bound_keeps_a_handover_note_in_place_and_no_orphaned_answer():
    prompt = ChatMessage("system", "Du bist der Empfang.")
    old_question, old_answer = ChatMessage("user", "a" * 3000), ChatMessage("assistant", "b" * 300)
    note = ChatMessage("system", "Das Gespräch wurde übergeben. Der bisherige Verlauf steht oben.")
    recent = [ChatMessage("user", "Wer sind Sie?"), ChatMessage("assistant", "Die Info."),
              ChatMessage("user", "Danke.")]
    budget = sum(estimate_tokens(m) for m in [prompt, old_answer, note, *recent])
    fitted = fit_messages([prompt, old_question, old_answer, note, *recent], budget)
    assert fitted == [prompt, note, *recent]


def test_handover_to_a_deleted_agent_goes_to_the_fallback_number():
    profile = operator(1, [{"key": "weg", "label": "Gelöscht", "kind": "agent", "agent_id": 9,
                            "keywords": ["Termin"]}, OFFICE], "weg")
    conv = Conversation(profile, AgentDirectory([profile], fallback_number="4930999"), None)
    actions = list(conv.on_caller("Ich brauche einen Termin"))
    assert ToolUsed("handover", {"target": "weg"}, "Der Agent für 'Gelöscht' existiert nicht "
                    "mehr.", ok=False) in actions
    assert actions[-1] == Transfer(number="4930999", label="Zentrale")


def test_without_any_reachable_target_the_call_ends_with_an_apology():
    profile = operator(1, [{"key": "weg", "label": "Gelöscht", "kind": "agent", "agent_id": 9,
                            "keywords": ["Termin"]}], "weg")
    actions = list(Conversation(profile, AgentDirectory([profile]), None).on_caller("Termin"))
    assert said(actions)[0] == "Es tut mir leid, ich kann Sie gerade nicht weiterverbinden."
    assert actions[-1] == EndCall(reason="kein_ziel")


def test_keyword_handover_loop_a_b_a_is_bounded_by_max_handovers():
    a = operator(1, [{"key": "b", "label": "B", "kind": "agent", "agent_id": 2,
                      "keywords": ["weiter"]}], "b")
    b = operator(2, [{"key": "a", "label": "A", "kind": "agent", "agent_id": 1,
                      "keywords": ["weiter"]}], "a")
    conv = Conversation(a, AgentDirectory([a, b], fallback_number="4930999"), None,
                        max_handovers=2)
    actions = []
    for _ in range(5):
        actions += list(conv.on_caller("weiter bitte"))
    assert [x.to.id for x in actions if isinstance(x, HandOver)] == [2, 1]
    assert actions[-1] == Transfer(number="4930999", label="Zentrale")
    assert conv.ended


def test_unknown_template_is_routed_to_the_fallback():
    broken = AgentProfile(1, "Alt", "gibtsnicht", {})
    conv = Conversation(broken, AgentDirectory([broken], fallback_number="4930999"), None)
    assert list(conv.greet())[-1] == Transfer(number="4930999", label="Zentrale")


def test_wrong_parameter_types_at_runtime_do_not_crash_the_call():
    profile = AgentProfile(1, "Kaputt", "operator", {"targets": "0301234", "default_target": 5,
                                                     "max_followups": "viele"})
    conv = Conversation(profile, AgentDirectory([profile], fallback_number="4930999"), None)
    actions = list(conv.on_caller("Rechnung"))
    assert actions[-1] == Transfer(number="4930999", label="Zentrale")


def test_llm_timeout_mid_stream_continues_in_keyword_mode():
    class CutOff:
        name = "cut"

        def chat(self, messages, **kwargs):
            yield from ScriptedLLM(["Einen Moment"]).chat(messages)
            raise EngineTimeout("cut", "no token for 15 s")

    profile = operator(1, [{**OFFICE, "keywords": ["Büro"]}], "buero")
    conv = Conversation(profile, AgentDirectory([profile]), CutOff())
    actions = list(conv.on_caller("Bitte das Büro"))
    assert ToolUsed("keyword_mode", {}, "LLM nicht verfügbar: cut: no token for 15 s",
                    ok=False) in actions
    assert actions[-1] == Transfer(number="4930100", label="Büro")


def test_a_backend_raising_a_foreign_exception_counts_as_an_engine_fault():
    class Broken:
        name = "broken"

        def chat(self, messages, **kwargs):
            raise ConnectionResetError("peer reset")

    profile = AgentProfile(4, "Info", "knowledge", {})
    conv = Conversation(profile, AgentDirectory([profile]), Broken())
    actions = list(conv.on_caller("Wann haben Sie offen?"))
    assert conv.keyword_mode
    assert said(actions) == ["Das weiß ich leider nicht.", "Kann ich Ihnen sonst noch helfen?"]


def test_tool_call_with_missing_arguments_is_refused_and_the_llm_answers():
    profile = AgentProfile(4, "Info", "knowledge", {"targets": [OFFICE]})
    llm = ScriptedLLM([ToolCall("transfer", {}), "Wohin genau möchten Sie?"])
    actions = list(Conversation(profile, AgentDirectory([profile]), llm).on_caller("Weiter"))
    assert ToolUsed("transfer", {}, "Keine konfigurierte Rufnummer 'None'.", ok=False) in actions
    assert said(actions) == ["Wohin genau möchten Sie?"]
    assert not any(isinstance(a, Transfer) for a in actions)


def test_llm_text_that_is_not_json_and_not_speech_is_never_read_out():
    profile = AgentProfile(4, "Info", "knowledge", {})
    llm = ScriptedLLM(['{"broken": json', '{"also": "broken"', "[[[", "<tool>"])
    actions = list(Conversation(profile, AgentDirectory([profile]), llm).on_caller("Hallo"))
    assert said(actions) == ["Entschuldigung, das habe ich nicht verstanden.",
                             "Können Sie das bitte wiederholen?"]
    assert len(llm.requests) == 3  # bounded: MAX_TOOL_ROUNDS


def test_transfer_tool_announces_before_it_transfers():
    profile = AgentProfile(4, "Info", "knowledge", {"targets": [OFFICE]})
    llm = ScriptedLLM([ToolCall("transfer", {"target": "buero"})])
    actions = list(Conversation(profile, AgentDirectory([profile]), llm).on_caller("Büro"))
    assert said(actions) == ["Einen Moment bitte, ich verbinde Sie mit Büro."]
    assert actions[-1] == Transfer(number="4930100", label="Büro")


def test_end_call_tool_says_goodbye_first():
    profile = AgentProfile(4, "Info", "knowledge", {})
    llm = ScriptedLLM([ToolCall("end_call", {"reason": "fertig"})])
    actions = list(Conversation(profile, AgentDirectory([profile]), llm).on_caller("Tschüss"))
    assert said(actions) == ["Vielen Dank für Ihren Anruf.", "Auf Wiederhören!"]
    assert actions[-1] == EndCall(reason="fertig")


def test_barge_in_keeps_only_what_the_caller_heard():
    profile = AgentProfile(4, "Info", "knowledge", {})
    llm = ScriptedLLM(["Unsere Praxis ist montags geöffnet. Dienstags auch. Mittwochs nicht."])
    conv = Conversation(profile, AgentDirectory([profile]), llm)
    stream = conv.on_caller("Wann haben Sie offen?")
    assert next(stream) == Say("Unsere Praxis ist montags geöffnet.")
    stream.close()  # the caller spoke: the call path stops playback and the stream
    conv.on_interrupted("Unsere Praxis ist montags")
    assert [(m.role, m.content) for m in conv.history] == [
        ("user", "Wann haben Sie offen?"), ("assistant", "Unsere Praxis ist montags …")]


def test_engine_error_class_is_what_the_runtime_catches():
    assert issubclass(EngineTimeout, EngineError)
