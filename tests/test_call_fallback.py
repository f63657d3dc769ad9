"""A call is never just dropped: whatever goes wrong, the caller lands in the dialplan's
fallback (apology + the customer's human number or voicemail) and the chat keeps what was said."""

from __future__ import annotations

import pytest

from esl_controller.testing import Say, WaitForAgentAudio, WaitForAgentSilence
from media.engines import EngineError
from media.testing import ScriptedLLM, ScriptedSTT, ToneTTS
from models import ChatStatus

FALLBACK_TRANSFER = ("transfer", "voicegate_fallback XML voicegate")


def _fallback_reason(chat) -> str:
    reasons = [data["reason"] for kind, data in chat.events if kind == "fallback"]
    assert len(reasons) == 1, chat.events
    return reasons[0]


def test_unconfigured_number_goes_to_the_fallback(call_lab):
    call_lab.stt, call_lab.llm = ScriptedSTT(), ScriptedLLM()
    call_lab.start().seed_practice()
    standin = call_lab.standin(destination="4940111111")
    record = standin.run([WaitForAgentSilence(silence_s=1.0, timeout_s=5)], timeout_s=15)

    assert FALLBACK_TRANSFER in record.executed
    assert not any(app == "answer" for app, _ in record.executed)  # the fallback answers
    chat = call_lab.chat(standin.uuid)
    assert chat.end_reason == "fallback" and chat.status == ChatStatus.NEU
    assert "4940111111" in _fallback_reason(chat)


def test_number_without_a_valid_window_goes_to_the_fallback(call_lab):
    call_lab.stt, call_lab.llm = ScriptedSTT(), ScriptedLLM()
    call_lab.start().seed_practice(with_window=False)
    standin = call_lab.standin()
    record = standin.run([WaitForAgentSilence(silence_s=1.0, timeout_s=5)], timeout_s=15)
    assert FALLBACK_TRANSFER in record.executed
    assert call_lab.chat(standin.uuid).end_reason == "fallback"


def test_node_without_speech_engines_routes_calls_to_the_fallback(call_lab):
    call_lab.llm = ScriptedLLM()  # stt and tts stay missing, as on a node without models
    call_lab.tts = None
    call_lab.start()
    call_lab.node.services.tts = None
    call_lab.node.services.engine_problems = ["Spracherkennung fehlt: kein Whisper-Modell"]
    call_lab.seed_practice()
    standin = call_lab.standin()
    record = standin.run([WaitForAgentSilence(silence_s=1.0, timeout_s=5)], timeout_s=15)
    assert FALLBACK_TRANSFER in record.executed
    chat = call_lab.chat(standin.uuid)
    assert "kein Whisper-Modell" in _fallback_reason(chat)


class FailingTTS(ToneTTS):
    """Speaks the greeting, then fails."""

    def synthesize(self, text, *, language="de", voice=""):
        if self.spoken:
            raise RuntimeError("TTS model crashed")
        return super().synthesize(text, language=language, voice=voice)


@pytest.mark.parametrize("broken", ["stt-raises", "stt-times-out", "stt-garbage", "tts-raises"])
def test_engine_fault_mid_call_ends_in_the_fallback_and_keeps_the_chat(call_lab, broken):
    caller_text = "Ich brauche einen Termin."
    if broken == "stt-raises":
        call_lab.stt = ScriptedSTT([EngineError("whisper", "model file corrupt")])
    elif broken == "stt-times-out":
        call_lab.stt = ScriptedSTT([caller_text], delay_s=3.0)  # timeout is 2 s
    elif broken == "stt-garbage":
        call_lab.stt = ScriptedSTT([caller_text])
        call_lab.stt.transcribe = lambda audio, language="de": None
    else:
        call_lab.stt = ScriptedSTT([caller_text])
        call_lab.tts = FailingTTS(ms_per_char=4.0)
    call_lab.llm = ScriptedLLM([{"reply": "Gern, wann passt es Ihnen?", "action": "ask",
                                 "target": "none"}])
    call_lab.start().seed_practice()
    standin = call_lab.standin()
    record = standin.run([WaitForAgentAudio(timeout_s=10), WaitForAgentSilence(silence_s=0.5),
                          Say(text=caller_text), WaitForAgentSilence(silence_s=4.0)],
                         timeout_s=30)

    assert FALLBACK_TRANSFER in record.executed
    chat = call_lab.chat(standin.uuid)
    assert chat.end_reason == "fallback" and chat.status == ChatStatus.NEU
    assert chat.transcript[0] == ("agent", "Praxis Test, guten Tag!")
    if broken == "tts-raises":  # what the caller said before the fault is kept
        assert ("caller", caller_text) in chat.transcript
    assert [kind for kind in chat.event_kinds() if kind in ("error", "fallback")] == [
        "error", "fallback"]


def test_llm_failure_keeps_the_operator_routing_in_keyword_mode(call_lab):
    call_lab.stt = ScriptedSTT(["Ich habe eine Frage zu meiner Rechnung."])
    call_lab.llm = ScriptedLLM([EngineError("ollama", "connection refused")] * 3)
    call_lab.start().seed_practice()
    standin = call_lab.standin()
    record = standin.run([WaitForAgentAudio(timeout_s=10), WaitForAgentSilence(silence_s=0.5),
                          Say(text="Ich habe eine Frage zu meiner Rechnung."),
                          WaitForAgentSilence(silence_s=3.0)], timeout_s=30)
    assert ("transfer", "4930777777 XML voicegate_transfer") in record.executed
    assert call_lab.chat(standin.uuid).end_reason == "transfer"


def test_a_call_longer_than_max_call_seconds_goes_to_the_fallback(call_lab):
    call_lab.stt, call_lab.llm = ScriptedSTT(), ScriptedLLM()
    call_lab.settings_overrides = {"max_call_seconds": 2}
    call_lab.start().seed_practice()
    standin = call_lab.standin()
    record = standin.run([WaitForAgentAudio(timeout_s=10),
                          WaitForAgentSilence(silence_s=4.0, timeout_s=10)], timeout_s=20)
    assert FALLBACK_TRANSFER in record.executed
    chat = call_lab.chat(standin.uuid)
    assert chat.end_reason == "fallback" and chat.ended
    assert "2 s" in _fallback_reason(chat)
