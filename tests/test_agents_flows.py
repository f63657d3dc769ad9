"""Smart Voicemail and Workflow-Bot: fixed steps, number read back digit by digit, polite end."""

from __future__ import annotations

from agents.actions import AgentProfile, EndCall, Say, ToolUsed
from agents.directory import AgentDirectory
from agents.runtime import Conversation
from media.testing import ScriptedLLM
from tests.test_agents_injection import HookServer


def said(actions) -> list[str]:
    return [a.text for a in actions if isinstance(a, Say)]


def voicemail(llm=None, **params) -> Conversation:
    profile = AgentProfile(3, "Anrufbeantworter", "voicemail", params)
    return Conversation(profile, AgentDirectory([profile]), llm)


def test_voicemail_keyword_mode_takes_a_message_and_ends_politely():
    conv = voicemail(greeting="Praxis Dr. Sommer, wir sind gerade nicht da.")
    assert said(conv.greet()) == ["Praxis Dr. Sommer, wir sind gerade nicht da.",
                                  "Wie ist Ihr Name, bitte?"]
    assert said(conv.on_caller("Ja, hier ist Anna Berger")) == [
        "Unter welcher Nummer können wir Sie zurückrufen?"]
    assert said(conv.on_caller("null drei null, eins zwei drei vier fünf sechs")) == [
        "Ich wiederhole die Nummer: null, drei, null, eins, zwei, drei, vier, fünf, sechs.",
        "Ist das richtig?"]
    assert said(conv.on_caller("Ja, das stimmt.")) == ["Was möchten Sie uns mitteilen?"]
    last = list(conv.on_caller("Ich möchte meinen Termin am Dienstag absagen."))
    assert said(last) == ["Vielen Dank, ich habe Ihre Nachricht notiert.",
                          "Wir melden uns bei Ihnen.", "Auf Wiederhören!"]
    assert last[-1] == EndCall(reason="erledigt")
    summary = conv.summarize([("caller", "Ja, hier ist Anna Berger")], ["Termin", "Rezept"])
    assert summary.summary == ("Nachricht von Anna Berger, Rückruf unter 030123456: „Ich möchte "
                               "meinen Termin am Dienstag absagen.“. Gespräch beendet.")
    assert summary.tags == ["Termin"] and summary.caller_name == "Anna Berger"
    assert summary.is_extract


def test_voicemail_number_is_corrected_when_the_caller_says_no():
    conv = voicemail()
    list(conv.greet())
    list(conv.on_caller("Berger"))
    list(conv.on_caller("0171 23"))
    assert said(conv.on_caller("Nein, das ist falsch")) == [
        "Dann sagen Sie mir die Nummer bitte noch einmal, Ziffer für Ziffer."]
    assert said(conv.on_caller("0171 2345678"))[0].startswith(
        "Ich wiederhole die Nummer: null, eins, sieben, eins, zwei")
    assert said(conv.on_caller("korrekt")) == ["Was möchten Sie uns mitteilen?"]
    assert conv.facts["callback"] == "01712345678"


def test_voicemail_without_digits_asks_for_the_number_again():
    conv = voicemail()
    list(conv.greet())
    list(conv.on_caller("Meier"))
    assert said(conv.on_caller("Die habe ich gerade nicht im Kopf")) == [
        "Ich habe keine Telefonnummer verstanden.", "Bitte nennen Sie sie Ziffer für Ziffer."]


def test_voicemail_in_du_form_and_english():
    profile = AgentProfile(3, "AB", "voicemail", {}, form_of_address="Du")
    du = Conversation(profile, AgentDirectory([profile]), None)
    assert said(du.greet())[-1] == "Wie heißt du?"
    profile = AgentProfile(3, "AB", "voicemail", {}, language="en")
    en = Conversation(profile, AgentDirectory([profile]), None)
    assert said(en.greet())[-1] == "May I have your name, please?"
    list(en.on_caller("This is John Smith"))
    assert said(en.on_caller("zero one seven one two three"))[0] == (
        "Let me repeat the number: zero, one, seven, one, two, three.")


def test_voicemail_with_llm_fills_several_answers_from_one_sentence():
    llm = ScriptedLLM([{"name": "Anna Berger", "rueckrufnummer": "01712345678",
                        "anliegen": "Termin absagen"}])
    conv = voicemail(llm)
    list(conv.greet())
    actions = list(conv.on_caller("Hallo, Anna Berger hier, ich möchte meinen Termin absagen, "
                                  "erreichbar bin ich unter 0171 2345678"))
    assert said(actions)[0] == ("Ich wiederhole die Nummer: null, eins, sieben, eins, zwei, "
                                "drei, vier, fünf, sechs, sieben, acht.")
    last = list(conv.on_caller("ja"))
    assert last[-1] == EndCall(reason="erledigt")
    assert conv.facts == {"name": "Anna Berger", "callback": "01712345678",
                          "anliegen": "Termin absagen"}


STEPS = [
    {"key": "name", "question": "Wie ist Ihr Name?", "kind": "name"},
    {"key": "terminwunsch", "question": "Wann hätten Sie gern einen Termin?", "kind": "date"},
]


def workflow(hook_url: str = "", **params) -> Conversation:
    values = {"greeting": "Terminanfrage der Praxis Dr. Sommer.", "steps": STEPS}
    if hook_url:
        values |= {"webhooks": [{"key": "praxis", "label": "Praxissoftware",
                                 "url": f"{hook_url}/termine"}], "result_webhook": "praxis"}
    values |= params
    profile = AgentProfile(5, "Terminanfrage", "workflow", values)
    return Conversation(profile, AgentDirectory([profile]), None)


def test_workflow_works_through_steps_confirms_and_posts_the_result():
    hook = HookServer()
    try:
        conv = workflow(hook.url)
        assert said(conv.greet()) == ["Terminanfrage der Praxis Dr. Sommer.", "Wie ist Ihr Name?"]
        assert said(conv.on_caller("Mein Name ist Jonas Weber")) == [
            "Wann hätten Sie gern einen Termin?"]
        assert said(conv.on_caller("Nächsten Montag vormittags")) == [
            "Ich fasse zusammen: name: Jonas Weber; terminwunsch: Nächsten Montag vormittags.",
            "Ist das so richtig?"]
        last = list(conv.on_caller("Ja, passt"))
        assert ToolUsed("webhook", {"hook": "praxis"}, "HTTP 200") in last
        assert last[-1] == EndCall(reason="erledigt")
        assert hook.posts == [("/termine", {"agent": "Terminanfrage", "hook": "praxis", "data": {
            "name": "Jonas Weber", "terminwunsch": "Nächsten Montag vormittags"}})]
    finally:
        hook.close()


def test_workflow_correction_asks_the_named_step_again():
    conv = workflow()
    list(conv.greet())
    list(conv.on_caller("Jonas Weber"))
    list(conv.on_caller("Montag"))
    assert said(conv.on_caller("Nein")) == [
        "Was soll ich korrigieren?", "Sagen Sie mir bitte, was nicht stimmt."]
    assert said(conv.on_caller("Der Terminwunsch ist falsch")) == [
        "Wann hätten Sie gern einen Termin?"]
    assert said(conv.on_caller("Dienstag"))[0] == (
        "Ich fasse zusammen: name: Jonas Weber; terminwunsch: Dienstag.")


def test_workflow_webhook_timeout_does_not_break_the_call():
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts, never answers
    try:
        profile = AgentProfile(5, "T", "workflow", {
            "steps": STEPS[:1], "confirm": False, "result_webhook": "x",
            "webhooks": [{"key": "x", "label": "X",
                          "url": f"http://127.0.0.1:{silent.getsockname()[1]}/"}]})
        conv = Conversation(profile, AgentDirectory([profile]), None, webhook_timeout_s=0.3)
        list(conv.greet())
        last = list(conv.on_caller("Weber"))
        assert ToolUsed("webhook", {"hook": "x"}, "Zeitüberschreitung.", ok=False) in last
        assert last[-1] == EndCall(reason="erledigt")
    finally:
        silent.close()
