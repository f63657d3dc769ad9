"""Barge-in and key presses as the caller experiences them, through the real FreeSWITCH and the
node as an operator runs it (``voicegate run``, real espeak-ng and faster-whisper base).

The caller is an :class:`tests.ear_probe.EarProbe`: its leg is under the probe's own socket
with ``unicast``, so what the caller hears and says is clocked frame by frame. It starts to
speak 1.2 s into the demo greeting (~4 s) — on a loopback line and on a SIP line (the carrier
profile dials the product's ``voicegate`` profile: SIP signalling, PCMA RTP both ways). The
caller must hear the agent stop while it is still speaking; how fast is bench/bench_bargein.py's
job (the bound here is generous so the test never flakes).
"""

from __future__ import annotations

import time

import pytest

from tests.ear_probe import EarProbe
from tests.real_freeswitch import (
    RealFreeSwitch,
    caller_speech,
    freeswitch_tree,  # noqa: F401  (fixture)
)
from tests.real_node import (
    RealNode,
    empfang_line_fs,  # noqa: F401  (fixture fs)
    empfang_line_node,  # noqa: F401  (fixture node)
    real_models,  # noqa: F401  (fixture)
)

pytestmark = pytest.mark.slow

NUMBER = "4930123456"  # the demo practice, Empfang (greeting ~4 s)
INTERRUPTION = "Moment, ich habe noch eine Frage."
GENEROUS_S = 1.0  # the agent must fall silent well before its greeting would have ended


def dial(fs: RealFreeSwitch, leg: str) -> str:
    """The originate target of a caller on ``leg`` (``loopback`` or ``sip``)."""
    if leg == "loopback":
        return f"loopback/{NUMBER}/voicegate"
    return f"sofia/carrier/{NUMBER}@127.0.0.1:{fs.sip_port}"


def probed_call(fs: RealFreeSwitch, leg: str, probe: EarProbe) -> None:
    variables = "{origination_caller_id_number=491701234567,ignore_early_media=true}"
    fs.bgapi(f"originate {variables}{dial(fs, leg)} "
             f"'&socket(127.0.0.1:{probe.port} async full)'")


def new_chat(node: RealNode, before: list[str], timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fresh = [uuid for uuid in node.chats() if uuid not in before]
        if fresh:
            return fresh[0]
        time.sleep(0.05)
    raise AssertionError("the call left no chat")


@pytest.mark.parametrize("leg", ["loopback", "sip"])
def test_caller_speaking_into_the_greeting_hears_the_agent_stop(fs, node, leg):
    before = node.chats()
    probe = EarProbe(caller_speech(INTERRUPTION), speak_after_s=1.2, hold_s=1.5)
    probed_call(fs, leg, probe)
    result = probe.wait(60)

    assert not result.error, result.error
    assert result.mouth_at is not None, "the caller never got to speak"
    # the greeting was playing when the caller began ...
    assert result.heard_voiced_s(result.mouth_at - 0.5, result.mouth_at) >= 0.2
    # ... and the caller heard it stop, long before the greeting would have ended by itself
    silent_after = result.agent_silent_after_s
    assert silent_after is not None, "the agent talked on over the caller"
    print(f"{leg}: agent silent at the caller's ear {1000 * silent_after:.0f} ms after the "
          "caller's first word")
    assert silent_after < GENEROUS_S
    # while the caller went on talking, the agent stayed quiet
    assert result.heard_voiced_s(result.mouth_at + GENEROUS_S, result.mouth_end_at) == 0

    chat = node.wait_chat(new_chat(node, before))
    greeting = [(text, cut) for role, _a, text, cut in chat.turns if role == "agent"][0]
    assert greeting[1], f"the greeting is not marked as interrupted: {chat.turns}"
    fs.wait_no_channels(timeout=20)


def test_keys_the_caller_presses_are_on_the_chat_timeline(fs, node):
    call = fs.call(NUMBER)
    chat = node.wait_turn(call.call_uuid, lambda t: t[0] == "agent", timeout=30)
    reply = fs.api(f"uuid_send_dtmf {call.uuid} 1#")
    assert reply.startswith("+OK"), reply
    fs.watch.wait(lambda e: e.name == "DTMF" and e.uuid == call.call_uuid
                  and e.get("DTMF-Digit") == "#", timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        chat = node.chat(call.call_uuid)
        if [d.get("digit") for kind, d in chat.events if kind == "dtmf"] == ["1", "#"]:
            break
        time.sleep(0.05)
    call.hangup()
    chat = node.wait_chat(call.call_uuid)
    keys = [d for kind, d in chat.events if kind == "dtmf"]
    assert [k["text"] for k in keys] == ["Taste 1 gedrückt", "Taste # gedrückt"]
    assert "caller pressed 1" in node.log_text()
    fs.wait_no_channels(timeout=20)
