"""The call's UUID on every line logged for it, whoever logs it: an operator who greps the
node's log for one call also finds what the engines said about it, though they ran in worker
threads (the in-process node: engines without cooperative waits go to thread pools)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from config.log_context import LOG_FORMAT, CallUuidFilter
from esl_controller.testing import HangUp, Say, WaitForAgentAudio, WaitForAgentSilence
from media.engines import Audio, Transcript
from media.testing import ScriptedSTT, ToneTTS

engine_log = logging.getLogger("media.test_engine")


class LoggingSTT(ScriptedSTT):
    def transcribe(self, audio: Audio, *, language: str = "de") -> Transcript:
        engine_log.info("transcribing %.1f s", audio.duration_s)
        return super().transcribe(audio, language=language)


class LoggingTTS(ToneTTS):
    def synthesize(self, text: str, *, language: str = "de", voice: str = "") -> Audio:
        engine_log.info("speaking %d characters", len(text))
        return super().synthesize(text, language=language, voice=voice)


@pytest.fixture
def node_log() -> Iterator[list[str]]:
    """The engines' lines as the node's log handler prints them (config.log_context)."""
    lines: list[str] = []
    formatter = logging.Formatter(LOG_FORMAT)
    handler = logging.Handler()
    handler.addFilter(CallUuidFilter())
    handler.emit = lambda r: lines.append(formatter.format(r))  # type: ignore[method-assign]
    engine_log.addHandler(handler)
    engine_log.setLevel(logging.INFO)
    yield lines
    engine_log.removeHandler(handler)


def test_what_the_engines_log_during_a_call_carries_the_calls_uuid(call_lab, node_log):
    call_lab.stt = LoggingSTT(["Ich möchte einen Termin."])
    call_lab.tts = LoggingTTS(ms_per_char=2.0, min_ms=200.0)
    call_lab.start().seed_practice()
    standin = call_lab.standin()
    standin.run([WaitForAgentAudio(timeout_s=10), WaitForAgentSilence(silence_s=0.5),
                 Say(text="Ich möchte einen Termin."), WaitForAgentAudio(timeout_s=10), HangUp()],
                timeout_s=30)
    call_lab.node.controller.wait_idle(timeout=15)
    said = [line for line in node_log if "transcribing" in line or "speaking" in line]
    assert any("transcribing" in line for line in said)
    assert any("speaking" in line for line in said)
    assert all(f"[{standin.uuid}]" in line for line in said), said
