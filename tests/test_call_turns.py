"""The dialog without sockets (esl_controller/testing/turns.py): what a caller notices of the
turn loop and the speaker — the idle prompt, barge-in, stored timings, a line that goes quiet."""

from __future__ import annotations

import time

import pytest

from agents.actions import AgentProfile
from config.turn_taking import TurnTaking
from esl_controller.testing.turns import RATE, TurnHarness
from media.audio import split_frames
from media.testing import ScriptedLLM, ScriptedSTT, ToneTTS
from tests.speech import concat, german_speech, pause

GREETING = "Praxis Test, guten Tag!"
PARAMS = {"greeting": GREETING, "max_followups": 2, "default_target": "buchhaltung",
          "targets": [{"key": "buchhaltung", "label": "Buchhaltung", "kind": "number",
                       "number": "4930777777", "keywords": ["Rechnung"]}]}
BYE = {"reply": "Gern geschehen. Auf Wiederhören!", "action": "end", "target": "none"}


def empfang(**options) -> AgentProfile:
    return AgentProfile(1, "Empfang", "operator", PARAMS, turn_taking=TurnTaking(**options))


@pytest.fixture
def harnesses():
    made: list[TurnHarness] = []
    yield made
    for harness in made:
        harness.stop()


def harness_for(tmp_path, harnesses, agent, stt=(), llm=(), **kwargs) -> TurnHarness:
    harness = TurnHarness(tmp_path, agent, stt=ScriptedSTT(stt), llm=ScriptedLLM(llm),
                          tts=ToneTTS(ms_per_char=4.0, min_ms=200.0), **kwargs)
    harnesses.append(harness)
    return harness


def caller_frames(text: str, tail_ms: int = 0) -> list[bytes]:
    speech = concat(pause(200, RATE), german_speech(text, RATE), pause(tail_ms, RATE))
    return split_frames(speech.pcm, RATE)


def test_a_silent_caller_is_asked_once_then_the_agent_says_goodbye_and_hangs_up(
        tmp_path, harnesses):
    harness = harness_for(tmp_path, harnesses, empfang(idle_prompt_s=0.2, idle_hangup_s=0.2))
    assert harness.start().wait_done()
    assert [t.text for t in harness.turns()] == [
        GREETING, "Sind Sie noch da?", "Ich höre Sie leider nicht mehr. Auf Wiederhören!"]
    assert harness.decisions.made == [("hangup", "caller silent")]


def test_a_barge_in_stops_the_rest_of_the_reply_but_the_transfer_still_happens(
        tmp_path, harnesses):
    reply = "Einen kleinen Moment bitte. Ich verbinde Sie jetzt mit unserer Buchhaltung."
    harness = harness_for(tmp_path, harnesses, empfang(), stt=["Es geht um meine Rechnung."],
                          llm=[{"reply": reply, "action": "forward", "target": "buchhaltung"}])
    line = harness.line
    harness.start()
    assert line.queued.wait(5)  # the greeting, played at once
    line.auto_play = False
    line.queued.clear()
    harness.says()
    assert line.queued.wait(5)
    line.tick(0.1)  # the caller hears the start of the first sentence ...
    harness.barge_in()  # ... and speaks
    assert harness.wait_done()
    agent = [t for t in harness.turns() if t.role == "agent"][-1]
    assert agent.interrupted and agent.text == "Einen kleinen Moment bitte."
    assert harness.decisions.made == [("transfer", "4930777777")]


def test_each_reply_is_stored_with_its_timings(tmp_path, harnesses):
    harness = harness_for(tmp_path, harnesses, empfang(endpoint_silence_ms=800),
                          stt=["Nein danke, tschüss."], llm=[BYE])
    harness.start()
    harness.says()
    assert harness.wait_done()
    caller, answer = harness.turns()[-2:]
    assert caller.text == "Nein danke, tschüss." and answer.text == BYE["reply"]
    assert set(answer.timings) == {"endpoint", "stt", "llm_ttft", "tts_first_audio", "total",
                                   "overhead"}
    assert answer.timings["endpoint"] == 800
    assert [kind for kind, _reason in harness.decisions.made] == ["hangup"]


def test_caller_audio_stopping_mid_sentence_ends_the_turn_instead_of_waiting_forever(
        tmp_path, harnesses):
    harness = harness_for(tmp_path, harnesses, empfang(caller_stall_s=0.3),
                          stt=["Ich brauche einen Termin."], llm=[BYE])
    frames = caller_frames("Ich brauche einen Termin am Montag.")
    for frame in frames[:len(frames) * 2 // 3]:  # then FreeSWITCH sends nothing more
        harness.ear.hear(frame, time.monotonic())
    assert harness.ear.endpointer.in_speech
    assert harness.start().wait_done()
    assert [(t.role, t.text) for t in harness.turns()] == [
        ("agent", GREETING), ("caller", "Ich brauche einen Termin."), ("agent", BYE["reply"])]


def test_no_are_you_still_there_while_the_caller_is_talking(tmp_path, harnesses):
    harness = harness_for(tmp_path, harnesses, empfang(idle_prompt_s=0.0),
                          stt=["Ich rufe wegen meines Zahns an."], llm=[BYE])
    frames = caller_frames("Ich rufe an, weil mir der Zahn oben links weh tut.", tail_ms=900)
    half = len(frames) // 2
    for frame in frames[:half]:  # the caller is mid-sentence when the idle time is up
        harness.ear.hear(frame, time.monotonic())
    harness.start()
    assert harness.line.queued.wait(5)
    for frame in frames[half:]:
        harness.ear.hear(frame, time.monotonic())
    assert harness.wait_done()
    assert [t.role for t in harness.turns()] == ["agent", "caller", "agent"]
