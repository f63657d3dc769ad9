"""A call is never just dropped: the real dialplan (freeswitch_conf/) around the controller."""

from __future__ import annotations

from esl_controller.testing import Say, WaitForAgentAudio, WaitForAgentSilence
from esl_controller.testing.dialplan_call import place_dialplan_call
from media.engines import EngineError
from media.testing import ScriptedLLM, ScriptedSTT
from tests.call_lab import NUMBER, free_tcp_port

APOLOGY = "entschuldigung.wav"



def _apology_then_fallback(call) -> None:
    names = call.app_names
    assert "answer" in names
    playback = [data for app, data in call.apps if app == "playback"]
    assert playback and playback[0].endswith(APOLOGY)
    assert names.index("playback") < names.index("bridge")
    assert call.bridged_to == "4930999999" and call.ended_by == "bridge"


def test_controller_down_caller_hears_apology_and_reaches_the_fallback_number():
    dead = f"127.0.0.1:{free_tcp_port()}"
    call = place_dialplan_call(NUMBER, [], esl_hosts=dead, timeout_s=10)
    assert call.socket is None and call.socket_errors == [dead]
    _apology_then_fallback(call)


def test_second_controller_takes_the_call_when_the_first_is_down(call_lab):
    call_lab.stt = ScriptedSTT(["Nein danke, tschüss."])
    call_lab.llm = ScriptedLLM([{"reply": "Auf Wiederhören!", "action": "end",
                                 "target": "none"}])
    call_lab.start().seed_practice()
    dead = f"127.0.0.1:{free_tcp_port()}"
    call = place_dialplan_call(
        NUMBER, [WaitForAgentAudio(timeout_s=10), WaitForAgentSilence(silence_s=0.5),
                 Say(text="Nein danke, tschüss."), WaitForAgentSilence(silence_s=2.0)],
        esl_hosts=f"{dead}|127.0.0.1:{call_lab.port}", timeout_s=20)
    assert call.socket_errors == [dead]
    assert call.socket is not None and call.socket.hangup_by == "controller"
    assert call.apps[-1][0] == "set" and call.ended_by == "socket"  # no fallback needed


def test_controller_error_lands_in_the_same_apology_and_fallback(call_lab):
    call_lab.stt = ScriptedSTT([EngineError("whisper", "model file corrupt")])
    call_lab.llm = ScriptedLLM()
    call_lab.start().seed_practice()
    call = place_dialplan_call(
        NUMBER, [WaitForAgentAudio(timeout_s=10), WaitForAgentSilence(silence_s=0.5),
                 Say(text="Hallo?"), WaitForAgentSilence(silence_s=2.0)],
        esl_hosts=f"127.0.0.1:{call_lab.port}", timeout_s=20)
    assert call.socket.transferred_to == "voicegate_fallback XML voicegate"
    _apology_then_fallback(call)


def test_unreachable_fallback_number_ends_in_voicemail():
    call = place_dialplan_call(NUMBER, [], esl_hosts=f"127.0.0.1:{free_tcp_port()}",
                               bridge_answers=False, timeout_s=10)
    assert call.ended_by == "voicemail"
    assert call.app_names[-1] == "voicemail"


def test_agent_transfer_bridges_to_the_configured_number(call_lab):
    call_lab.stt = ScriptedSTT(["Ich habe eine Frage zu meiner Rechnung."])
    call_lab.llm = ScriptedLLM([{"reply": "", "action": "forward", "target": "buchhaltung"}])
    call_lab.start().seed_practice()
    call = place_dialplan_call(
        NUMBER, [WaitForAgentAudio(timeout_s=10), WaitForAgentSilence(silence_s=0.5),
                 Say(text="Ich habe eine Frage zu meiner Rechnung."),
                 WaitForAgentSilence(silence_s=2.0)],
        esl_hosts=f"127.0.0.1:{call_lab.port}", timeout_s=20)
    assert call.bridged_to == "4930777777" and call.ended_by == "bridge"
    assert not any(app == "playback" for app, _ in call.apps)  # no apology on a normal transfer
