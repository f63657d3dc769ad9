"""Calls through a real FreeSWITCH (the product's freeswitch_conf) to the node as an operator
runs it (``voicegate run``, real espeak-ng and faster-whisper base, keyword mode), with loopback
callers speaking German (espeak-ng) and "the human" behind the carrier gateway.

What is asserted is what people notice: what the caller heard, whether the human's phone was
answered and what reached it, the voicemail message, the chat the receptionist reads, and that
FreeSWITCH holds no channel and the node no call afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.real_freeswitch import (
    BUSY_NUMBER,
    RealFreeSwitch,
    caller_speech,
    free_port,
    freeswitch_tree,  # noqa: F401  (fixture)
    is_event,
    voiced_ms,
)
from tests.real_node import RealNode, real_models  # noqa: F401  (fixture)
from tests.speech import concat, duration_ms, pause

pytestmark = pytest.mark.slow

NUMBER = "4930123456"  # the demo practice
FALLBACK = "4930123450"  # the demo's fallback number
TERMIN_DESK = "4930123457"  # Empfang's target "Terminvergabe"
GREETING = "Zahnarztpraxis Dr. Sommer, guten Tag! Worum geht es bei Ihnen?"
GREETING_WAIT_MS = 5500  # the caller lets the greeting (~4 s) finish before speaking
APOLOGY_MS = 7000  # entschuldigung.wav is 7.8 s


@pytest.fixture(scope="module")
def fs(freeswitch_tree, tmp_path_factory) -> Iterator[RealFreeSwitch]:  # noqa: F811
    instance = RealFreeSwitch.create(freeswitch_tree, tmp_path_factory.mktemp("fs"))
    instance.start()
    yield instance
    instance.kill()


@pytest.fixture(scope="module")
def node(fs, real_models, tmp_path_factory) -> Iterator[RealNode]:  # noqa: F811
    process = RealNode.create(tmp_path_factory.mktemp("node"), models=real_models, freeswitch=fs)
    process.always("Empfang")
    process.start()
    yield process
    process.stop()


@pytest.fixture
def line(fs, node) -> Iterator[tuple[RealFreeSwitch, RealNode]]:
    """FreeSWITCH and the node up, pointed at each other; afterwards nothing may be left."""
    fs.start()
    node.start()
    fs.set_vars(esl_hosts=[f"127.0.0.1:{node.esl_port}"], fallback_number=FALLBACK)
    yield fs, node
    try:
        fs.wait_no_channels(timeout=30)
    finally:
        fs.api("hupall NORMAL_CLEARING")  # a stuck call must not spoil the next test
    assert node.live_calls() == []


def says(text: str, after_ms: int = GREETING_WAIT_MS):
    return concat(pause(after_ms), caller_speech(text))


def assert_serving(fs: RealFreeSwitch, node: RealNode) -> None:
    """A fresh caller is answered and greeted by the Empfang agent."""
    call = fs.call(NUMBER)
    chat = node.wait_turn(call.call_uuid, lambda t: t[0] == "agent", timeout=30)
    call.hangup()
    call.wait_ended(15)
    assert chat.turns[0][1:3] == ("Empfang", GREETING)
    assert voiced_ms(call.heard()) >= 2000, "the greeting was not heard"


# ---------------------------------------------------------------------------- the good call

def test_german_call_is_greeted_heard_routed_and_connected_to_the_desk(line):
    fs, node = line
    call = fs.call(NUMBER, says("Ich möchte einen Termin."))
    fs.watch.wait(is_event("CHANNEL_BRIDGE", call.call_uuid), timeout=60)
    call.say(caller_speech("Ich hätte gern einen Termin am Montag."))
    call.wait_ended(60)  # the human hangs up after speaking and listening

    chat = node.wait_chat(call.call_uuid)
    assert (chat.status, chat.start_agent, chat.last_agent) == ("neu", "Empfang", "Empfang")
    assert (chat.end_reason, chat.transferred_to) == ("transfer", TERMIN_DESK)
    assert chat.caller_number == "491701234567" and chat.called_number == NUMBER
    assert chat.turns[0][:3] == ("agent", "Empfang", GREETING)
    caller_turns = [text for role, _a, text, _i in chat.turns if role == "caller"]
    assert any("Termin" in text for text in caller_turns), caller_turns
    assert "verbinde" in chat.turns[-1][2] and chat.summary
    # the human's phone really rang, was answered, and the caller and the human heard each other
    human = fs.human_calls(TERMIN_DESK)
    assert len(human) == 1
    assert voiced_ms(human[0].said) >= 2000, "the human's greeting was not played"
    assert voiced_ms(human[0].heard) >= 800, "the caller's words did not reach the human"
    assert voiced_ms(call.heard()) >= 6000  # greeting + "ich verbinde" + the human


def test_handover_to_the_emergency_agent_who_greets_the_caller(line):
    fs, node = line
    call = fs.call(NUMBER, says("Es ist ein Notfall."))
    chat = node.wait_turn(call.call_uuid, lambda t: t[0] == "agent" and t[1] == "Notdienst",
                          timeout=60)  # stored once the Notdienst greeting has been played
    call.hangup()
    call.wait_ended(15)
    chat = node.wait_chat(call.call_uuid)
    assert (chat.start_agent, chat.last_agent) == ("Empfang", "Notdienst")
    assert "handover" in chat.event_kinds()
    assert any(agent == "Notdienst" and "Notdienst" in text
               for role, agent, text, _i in chat.turns if role == "agent")
    assert (chat.status, chat.end_reason) == ("neu", "caller_hangup")


# ---------------------------------------------------------------------------- no controller

def test_controller_down_apology_and_the_fallback_human_answers(line):
    fs, node = line
    before = node.chats()
    fs.set_vars(esl_hosts=[f"127.0.0.1:{free_port()}"])  # nothing listens there
    try:
        call = fs.call(NUMBER)
        call.wait_ended(60)  # the human hangs up
    finally:
        fs.set_vars(esl_hosts=[f"127.0.0.1:{node.esl_port}"])
    human = fs.human_calls(FALLBACK)
    assert human and voiced_ms(human[-1].said) >= 2000
    assert voiced_ms(call.heard()) >= APOLOGY_MS + 2000  # apology, then the human
    assert node.chats() == before


def test_fallback_unreachable_the_caller_leaves_a_voicemail(line):
    fs, node = line
    messages = len(fs.voicemail_messages())
    fs.set_vars(esl_hosts=[f"127.0.0.1:{free_port()}"], fallback_number=BUSY_NUMBER)
    try:
        call = fs.call(NUMBER)
        fs.watch.wait(lambda e: e.name == "CHANNEL_EXECUTE" and e.uuid == call.call_uuid
                      and e.get("Application") == "voicemail", timeout=60)
        message = concat(pause(500), caller_speech(
            "Hier ist Müller. Ich habe einen Notfall, bitte melden Sie sich morgen früh."))
        call.say(message)
        time.sleep(duration_ms(message) / 1000 + 1.0)  # the caller talks, then hangs up
        call.hangup()
        call.wait_ended(15)
    finally:
        fs.set_vars(esl_hosts=[f"127.0.0.1:{node.esl_port}"], fallback_number=FALLBACK)
    fs.wait_for(lambda: len(fs.voicemail_messages()) > messages, timeout=15,
                what="the voicemail message")
    assert "491701234567" in fs.vm_list()
    assert not fs.human_calls(BUSY_NUMBER)


def test_node_dying_mid_call_leaves_the_caller_with_the_fallback_human(line):
    fs, node = line
    call = fs.call(NUMBER)
    call.wait_answered(30)
    node.kill()  # the controller's socket closes: the dialplan takes over
    call.wait_ended(60)
    human = fs.human_calls(FALLBACK)
    assert human and voiced_ms(human[-1].said) >= 2000
    node.start()  # the chat cut off by the crash is closed for the receptionist
    chat = node.wait_chat(call.call_uuid)
    assert (chat.status, chat.end_reason) == ("neu", "error")
    assert_serving(fs, node)


def test_engine_failure_apology_and_bridge_to_the_fallback(fs, real_models,  # noqa: F811
                                                           tmp_path):
    """A node whose speech recognition always times out: the caller still reaches a human."""
    fs.start()
    broken = RealNode.create(tmp_path / "node", models=real_models, freeswitch=fs,
                             engines={"stt_timeout_s": 0.001})
    broken.always("Empfang")
    broken.start()  # writes its own port into voicegate/vars.xml
    try:
        human_before = len(fs.human_calls(FALLBACK))
        call = fs.call(NUMBER, says("Ich möchte einen Termin."))
        call.wait_ended(60)
        chat = broken.wait_chat(call.call_uuid)
    finally:
        broken.stop()
        fs.api("hupall NORMAL_CLEARING")  # a stuck call must not spoil the next test
    assert (chat.status, chat.end_reason) == ("neu", "fallback")
    assert "fallback" in chat.event_kinds()
    human = fs.human_calls(FALLBACK)
    assert len(human) == human_before + 1 and voiced_ms(human[-1].said) >= 2000
    fs.wait_no_channels(30)


# ---------------------------------------------------------------------------- hang-ups

def _hangup_before_answer(fs: RealFreeSwitch, node: RealNode):
    call = fs.call(NUMBER)
    fs.watch.wait(lambda e: e.name == "CHANNEL_CREATE"
                  and e.get("variable_other_loopback_leg_uuid") == call.uuid, timeout=10)
    call.hangup()
    return call


def _hangup_during_greeting(fs: RealFreeSwitch, node: RealNode):
    call = fs.call(NUMBER)
    call.wait_answered(30)
    time.sleep(1.0)  # the greeting lasts ~4 s
    call.hangup()
    return call


def _hangup_while_the_agent_speaks(fs: RealFreeSwitch, node: RealNode):
    call = fs.call(NUMBER, says("Es ist ein Notfall."))
    node.wait_turn(call.call_uuid, lambda t: t[0] == "caller", timeout=60)
    time.sleep(0.8)  # "Einen Moment bitte, ich verbinde Sie …" lasts ~3 s
    call.hangup()
    return call


def _hangup_during_stt(fs: RealFreeSwitch, node: RealNode):
    # 0.9 s after the last word: past the 0.6 s endpoint, inside the ~1 s recognition
    return fs.call(NUMBER, says("Ich möchte einen Termin."), hold_ms=900)


@pytest.mark.parametrize("hang_up", [_hangup_before_answer, _hangup_during_greeting,
                                     _hangup_while_the_agent_speaks, _hangup_during_stt],
                         ids=["before-answer", "during-greeting", "while-agent-speaks",
                              "during-stt"])
def test_caller_hanging_up_leaves_nothing_behind(line, hang_up):
    fs, node = line
    call = hang_up(fs, node)
    call.wait_ended(30)
    fs.wait_no_channels(30)
    fs.wait_for(lambda: node.live_calls() == [], timeout=30, what="no live call in the node")
    chat = node.chat(call.call_uuid) if call.call_uuid in node.chats() else None
    if chat is not None:  # before answer the socket may never have been connected
        chat = node.wait_chat(call.call_uuid)
        assert chat.status == "neu" and chat.end_reason == "caller_hangup", chat
        assert not chat.transferred_to
    assert_serving(fs, node)


# ---------------------------------------------------------------------------- FreeSWITCH dies

def test_freeswitch_killed_mid_call_the_chat_is_closed_and_the_next_call_served(line):
    fs, node = line
    call = fs.call(NUMBER)
    uuid = call.call_uuid
    call.wait_answered(30)
    fs.kill()
    chat = node.wait_chat(uuid, timeout=30)
    assert chat.status == "neu" and chat.ended
    assert node.live_calls() == []
    fs.start()  # FreeSWITCH comes back
    assert_serving(fs, node)


# ---------------------------------------------------------------------------- load

def test_twenty_simultaneous_calls_every_chat_complete(fs, node, real_models,  # noqa: F811
                                                       tmp_path):
    """20 callers at once. The node gets a 90 s recognition timeout: 20 utterances queue for
    one faster-whisper on two shared cores, and the default 10 s would send the last ones to
    the fallback (what capacity a node has is bench/ material, not this test's)."""
    fs.start()
    node.stop()
    busy = RealNode.create(tmp_path / "node", models=real_models, freeswitch=fs,
                           engines={"stt_timeout_s": 90})
    busy.always("Empfang")
    busy.start()
    try:
        calls = [fs.call(NUMBER, says("Ich möchte einen Termin."),
                         caller_number=f"49170000{i:04d}") for i in range(20)]
        # the node lets go of each call once it has transferred it; callers still on the
        # line then hang up
        chats = [busy.wait_chat(c.call_uuid, timeout=300) for c in calls]
        for call in calls:
            if call.alive():
                call.hangup()
            call.wait_ended(30)
        fs.wait_no_channels(30)
        assert busy.live_calls() == []
    finally:
        busy.stop()
        fs.api("hupall NORMAL_CLEARING")
        node.start()
    for chat in chats:
        assert chat.status == "neu" and chat.ended, chat
        # under this load a greeting may start late and the caller talk over its end
        role, agent, text, _interrupted = chat.turns[0]
        assert (role, agent) == ("agent", "Empfang") and GREETING.startswith(text), chat.turns
        assert any(role == "caller" and "Termin" in text for role, _a, text, _i in chat.turns)
        assert (chat.end_reason, chat.transferred_to) == ("transfer", TERMIN_DESK), chat
    assert sorted(c.caller_number for c in chats) == sorted(c.caller_number for c in calls)
