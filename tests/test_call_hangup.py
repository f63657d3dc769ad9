"""The caller may hang up at any moment: the call ends cleanly, nothing leaks, and the chat
keeps everything said up to that moment."""

from __future__ import annotations

import gc
import time

import gevent
import pytest

from esl_controller.testing import HangUp, Pause, Say, WaitForAgentAudio, WaitForAgentSilence
from media.testing import ScriptedLLM, ScriptedSTT, ToneTTS
from models import ChatStatus

LONG_REPLY = ("Wir haben Montag bis Freitag von acht bis zwölf und von vierzehn bis achtzehn Uhr "
              "geöffnet. Am Mittwochnachmittag ist die Praxis geschlossen. Samstags gibt es "
              "nur den Notdienst. Kann ich sonst noch etwas für Sie tun?")


def _live_greenlets() -> int:
    """Spawned greenlets still alive (thread-pool workers are reused, not leaked)."""
    return sum(1 for o in gc.get_objects() if isinstance(o, gevent.Greenlet) and not o.dead)


class SlowGreetingTTS(ToneTTS):
    """Takes 1.5 s to speak the Notdienst greeting (so a hangup lands inside the handover)."""

    def synthesize(self, text, *, language="de", voice=""):
        if text.startswith("Hier ist der Notdienst"):
            time.sleep(1.5)
        return super().synthesize(text, language=language, voice=voice)


CASES = {
    "before-anything": ([HangUp()], {}),
    "during-greeting": ([WaitForAgentAudio(timeout_s=10), Pause(0.05), HangUp()], {}),
    "while-agent-speaks": (
        [WaitForAgentAudio(timeout_s=10), WaitForAgentSilence(silence_s=0.5),
         Say(text="Wann haben Sie geöffnet?"), WaitForAgentAudio(timeout_s=10), Pause(0.4),
         HangUp()], {}),
    "during-stt": (
        [WaitForAgentAudio(timeout_s=10), WaitForAgentSilence(silence_s=0.5),
         Say(text="Wann haben Sie geöffnet?"), Pause(0.9), HangUp()], {"stt_delay": 1.0}),
    "during-handover": (
        [WaitForAgentAudio(timeout_s=10), WaitForAgentSilence(silence_s=0.5),
         Say(text="Ich habe einen Notfall."), Pause(1.3), HangUp()], {"slow_handover": True}),
}


@pytest.mark.parametrize("moment", list(CASES))
def test_caller_hangs_up(call_lab, moment):
    script, options = CASES[moment]
    caller_text = "Ich habe einen Notfall." if moment == "during-handover" \
        else "Wann haben Sie geöffnet?"
    call_lab.stt = ScriptedSTT([caller_text], delay_s=options.get("stt_delay", 0.0))
    decision = ({"reply": "", "action": "forward", "target": "notdienst"}
                if moment == "during-handover" else
                {"reply": LONG_REPLY, "action": "ask", "target": "none"})
    call_lab.llm = ScriptedLLM([decision])
    if options.get("slow_handover"):
        call_lab.tts = SlowGreetingTTS(ms_per_char=4.0)
    call_lab.start().seed_practice()
    services = call_lab.node.services
    greenlets_before = _live_greenlets()

    standin = call_lab.standin()
    record = standin.run(script, timeout_s=20)
    assert record.hangup_by == "caller"
    deadline = time.monotonic() + 5
    while len(services.live) and time.monotonic() < deadline:
        gevent.sleep(0.05)
    assert len(services.live) == 0
    assert not services.ports._in_use  # unicast ports handed back

    chat = call_lab.chat(standin.uuid)
    if moment == "before-anything" and chat is None:
        return  # hung up before the controller learned anything: nothing to keep
    assert chat.status == ChatStatus.NEU and chat.ended
    assert chat.end_reason == "caller_hangup"
    if moment != "before-anything":
        assert chat.turns[0][:3] == ("agent", "Empfang", "Praxis Test, guten Tag!")
    if moment == "during-greeting":
        assert chat.turns[0][3] is True  # marked as interrupted
    if moment in ("while-agent-speaks", "during-stt", "during-handover"):
        assert ("caller", caller_text) in chat.transcript
    if moment == "while-agent-speaks":
        role, _agent, text, interrupted = chat.turns[-1]
        assert role == "agent" and interrupted and LONG_REPLY.startswith(text)
    if moment == "during-handover":
        assert "handover" in chat.event_kinds() and chat.last_agent == "Notdienst"
    gevent.sleep(0.2)
    gc.collect()
    assert _live_greenlets() <= greenlets_before + 1  # +1: the shared pacer may still idle
