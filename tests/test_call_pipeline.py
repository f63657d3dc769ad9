"""The real local pipeline in the call path: webrtcvad endpointing, faster-whisper code on a tiny
random model, the real `ollama` client against a server speaking Ollama's protocol, espeak-ng
speech — through the FreeSWITCH stand-in. Barge-in on real speech audio."""

from __future__ import annotations

import pytest

from esl_controller.testing import Pause, Say, WaitForAgentAudio, WaitForAgentSilence
from media.llm.ollama import OllamaLLM
from media.stt.faster_whisper import FasterWhisperSTT
from media.tts.espeak import EspeakTTS
from tests.call_lab import CallLab, agent_stretches
from tests.ollama_server import DEFAULT_MODEL, OllamaServer
from tests.speech import german_speech
from tests.tiny_models import cached_model_dir

pytestmark = pytest.mark.slow

LONG_ANSWER = ("Unsere Praxis hat Montag bis Freitag von acht bis zwölf Uhr geöffnet. "
               "Nachmittags sind wir von vierzehn bis achtzehn Uhr für Sie da. "
               "Am Mittwochnachmittag bleibt die Praxis geschlossen. "
               "Samstags gibt es einen Notdienst von neun bis dreizehn Uhr.")


@pytest.fixture
def ollama():
    with OllamaServer() as server:
        yield server


@pytest.fixture
def real_lab(call_lab: CallLab, ollama: OllamaServer) -> CallLab:
    call_lab.stt = FasterWhisperSTT(cached_model_dir("faster-whisper", eot_bias=0.0),
                                    max_new_tokens=12)
    call_lab.llm = OllamaLLM(DEFAULT_MODEL, host=ollama.url, timeout_s=5.0)
    call_lab.tts = EspeakTTS()
    call_lab.settings_overrides = {}
    return call_lab


def _decision(reply: str, action: str, target: str = "none") -> dict:
    return {"reply": reply, "action": action, "target": target}


def test_a_call_runs_through_vad_whisper_ollama_and_espeak(real_lab, ollama):
    ollama.add(_decision("Gern. Welcher Tag passt Ihnen?", "ask"),
               _decision("Alles klar, auf Wiederhören!", "end"))
    real_lab.start().seed_practice()
    standin = real_lab.standin()
    record = standin.run([
        WaitForAgentAudio(timeout_s=15), WaitForAgentSilence(silence_s=0.8, timeout_s=15),
        Say(text="Ich möchte einen Termin vereinbaren."),
        WaitForAgentAudio(timeout_s=15), WaitForAgentSilence(silence_s=0.8, timeout_s=15),
        Say(text="Am Dienstag, danke."),
        WaitForAgentSilence(silence_s=2.0, timeout_s=15)], timeout_s=60)

    assert record.hangup_by == "controller", record.errors
    chat = real_lab.chat(standin.uuid)
    agent_lines = [text for role, text in chat.transcript if role == "agent"]
    assert agent_lines == ["Praxis Test, guten Tag!", "Gern. Welcher Tag passt Ihnen?",
                           "Alles klar, auf Wiederhören!"]
    heard = [text for role, text in chat.transcript if role == "caller"]
    assert len(heard) == 2 and all(heard)  # the random model's words, whatever they are
    # what Whisper heard is what the LLM got, through the real client and HTTP
    user_messages = [m["content"] for r in ollama.requests for m in r["messages"]
                     if m["role"] == "user"]
    assert heard[0] in user_messages
    # espeak-ng speech reached the caller: three stretches, the greeting over half a second
    stretches = agent_stretches(record)
    assert len(stretches) == 3 and stretches[0] > 0.5
    answered = [t for t in chat.timings if "total" in t]
    assert answered and all(t["stt"] > 0 and t["tts_first_audio"] > 0 for t in answered)


def test_caller_barging_in_stops_the_agent_within_200_ms(real_lab, ollama):
    ollama.add(_decision(LONG_ANSWER, "ask"), _decision("Natürlich, fragen Sie.", "ask"),
               _decision("Auf Wiederhören!", "end"))
    real_lab.start().seed_practice()
    interruption = german_speech("Moment, ich habe noch eine Frage.")
    standin = real_lab.standin()
    record = standin.run([
        WaitForAgentAudio(timeout_s=15), WaitForAgentSilence(silence_s=0.8, timeout_s=15),
        Say(text="Wann haben Sie geöffnet?"),
        WaitForAgentAudio(timeout_s=15), Pause(1.5),
        Say(audio=interruption),
        WaitForAgentAudio(timeout_s=15), WaitForAgentSilence(silence_s=0.8, timeout_s=15),
        Say(text="Nein, danke."), WaitForAgentSilence(silence_s=2.0, timeout_s=15)],
        timeout_s=60)

    onset = record.caller_speech_ends[1] - interruption.duration_s + 0.02
    packets = [at for at, _ in record.agent_packets]
    assert any(onset - 0.1 < at <= onset for at in packets), "agent was not speaking"
    during = [at for at in packets if onset - 0.5 < at < onset + 0.4]
    stopped_at = max(during)
    print(f"barge-in: agent audio stopped {1000 * (stopped_at - onset):.0f} ms after onset")
    assert stopped_at - onset <= 0.200, f"agent kept talking {stopped_at - onset:.3f} s"
    chat = real_lab.chat(standin.uuid)
    cut = [(text, interrupted) for role, _a, text, interrupted in chat.turns
           if role == "agent" and interrupted]
    assert len(cut) == 1 and LONG_ANSWER.startswith(cut[0][0]) and cut[0][0] != LONG_ANSWER
    # the LLM learned that its answer was cut off
    assert any("…" in m["content"] or "unterbrochen" in m["content"]
               for r in ollama.requests[1:2] for m in r["messages"] if m["role"] == "assistant")
