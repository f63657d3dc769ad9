"""Keys the caller presses reach the chat timeline (stand-in; the real FreeSWITCH's DTMF is in
tests/test_real_freeswitch_bargein.py)."""

from __future__ import annotations

from esl_controller.testing import HangUp, Pause, SendDtmf, WaitForAgentAudio
from media.testing import ScriptedLLM, ScriptedSTT
from models import ChatStatus


def test_pressed_keys_are_on_the_chat_timeline(call_lab):
    call_lab.stt, call_lab.llm = ScriptedSTT(), ScriptedLLM()
    call_lab.start().seed_practice()
    standin = call_lab.standin()
    record = standin.run([WaitForAgentAudio(timeout_s=10), SendDtmf("1"), SendDtmf("#"),
                          Pause(0.3), HangUp()], timeout_s=20)
    chat = call_lab.chat(standin.uuid)
    assert record.hangup_by == "caller", record.errors
    keys = [data for kind, data in chat.events if kind == "dtmf"]
    assert [k["text"] for k in keys] == ["Taste 1 gedrückt", "Taste # gedrückt"]
    assert keys[0]["source"] == "RTP"
    assert chat.ended and chat.status == ChatStatus.NEU  # a key press does not disturb the call
