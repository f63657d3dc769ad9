"""After the call: summary, tags from the customer's list, caller name; an extract without LLM."""

from __future__ import annotations

from agents.summary import extract_summary, find_caller_name, summarize_call
from media.engines import EngineError
from media.testing import ScriptedLLM

TAGS = ["Termin", "Notfall", "Rechnung", "Rezept"]
TRANSCRIPT = [("agent", "Praxis Dr. Sommer, guten Tag!"),
              ("caller", "Guten Tag, mein Name ist Jonas Weber, ich habe starke Zahnschmerzen "
                         "und brauche einen Notfalltermin."),
              ("agent", "Ich verbinde Sie mit dem Notdienst.")]


def test_without_llm_the_summary_is_a_flagged_extract_with_keyword_tags():
    result = summarize_call(None, TRANSCRIPT, TAGS, outcome="Übergeben an Notdienst.")
    assert result.is_extract
    assert result.summary == ("Anliegen des Anrufers: „Guten Tag, mein Name ist Jonas Weber, ich "
                              "habe starke Zahnschmerzen und brauche einen Notfalltermin“. "
                              "Übergeben an Notdienst.")
    assert result.tags == ["Termin", "Notfall"]  # compounds: Notfalltermin
    assert result.caller_name == "Jonas Weber"


def test_llm_summary_is_cut_to_three_sentences_and_unknown_tags_dropped():
    llm = ScriptedLLM([{"summary": "Eins. Zwei. Drei. Vier.", "tags": ["Notfall"],
                        "caller_name": ""}])
    result = summarize_call(llm, TRANSCRIPT, TAGS)
    assert result.summary == "Eins. Zwei. Drei."
    assert result.tags == ["Notfall"] and not result.is_extract


def test_llm_tags_outside_the_list_fail_validation_and_the_extract_is_used():
    llm = ScriptedLLM([{"summary": "x", "tags": ["Spam"], "caller_name": ""},
                       "kein json"])
    result = summarize_call(llm, TRANSCRIPT, TAGS)
    assert result.is_extract and result.tags == ["Termin", "Notfall"]


def test_llm_failure_gives_the_extract():
    llm = ScriptedLLM([EngineError("ollama", "down")])
    assert summarize_call(llm, TRANSCRIPT, TAGS).is_extract


def test_an_empty_call_says_so():
    result = summarize_call(None, [("agent", "Guten Tag!")], TAGS)
    assert result.summary == "Der Anrufer hat nichts gesagt."
    assert result.tags == [] and result.caller_name == ""


def test_caller_names_are_found_only_where_given():
    assert find_caller_name("Hallo, hier spricht Frau Meier") == "Frau Meier"
    assert find_caller_name("ich bin gerade beim Arzt") == ""
    assert find_caller_name("My name is John Smith") == "John Smith"
    assert extract_summary([("caller", "Rezept bitte")], TAGS).caller_name == ""
