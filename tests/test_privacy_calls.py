"""Recording and consent in a call through the FreeSWITCH stand-in: the announcement is the
first thing the caller hears, before the greeting; with recording off no audio file is written
and the chat says so."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from esl_controller.testing import Say, WaitForAgentAudio, WaitForAgentSilence
from media.engines import Audio
from media.testing import ScriptedLLM, ScriptedSTT, ToneTTS
from models import PhoneNumber, db
from tests.call_lab import NUMBER

ANNOUNCEMENT = "Dieses Gespräch wird zur Qualitätssicherung aufgezeichnet."
GREETING = "Praxis Test, guten Tag!"  # CallLab.seed_practice's Empfang
ANNOUNCEMENT_HZ, OTHER_HZ = 1000.0, 440.0


class TextTones(ToneTTS):
    """A tone TTS whose pitch says which text is spoken: the announcement at 1 kHz, any other
    sentence at 440 Hz, so the caller's side can tell what it heard in which order."""

    def synthesize(self, text: str, *, language: str = "de", voice: str = "") -> Audio:
        self.frequency_hz = ANNOUNCEMENT_HZ if text == ANNOUNCEMENT else OTHER_HZ
        return super().synthesize(text, language=language, voice=voice)


def heard_tones(pcm: bytes, rate: int = 8000) -> list[float]:
    """The pitches the caller heard, in order (runs of 20 ms frames with the same pitch)."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    frame = rate // 50
    tones: list[float] = []
    for start in range(0, len(samples) - frame + 1, frame):
        chunk = samples[start:start + frame]
        if np.sqrt(np.mean(chunk ** 2)) < 500:  # silence or comfort noise
            continue
        spectrum = np.abs(np.fft.rfft(chunk * np.hanning(frame)))
        pitch = float(np.argmax(spectrum) * rate / frame)
        pitch = ANNOUNCEMENT_HZ if abs(pitch - ANNOUNCEMENT_HZ) < 100 else OTHER_HZ \
            if abs(pitch - OTHER_HZ) < 100 else pitch
        if not tones or tones[-1] != pitch:
            tones.append(pitch)
    return tones


def _configure(call_lab, *, record: bool, announce: bool) -> None:
    with call_lab.node.db_app.app_context():
        number = db.session.scalar(db.select(PhoneNumber).filter_by(number=NUMBER))
        number.recording_enabled = record
        number.announcement_enabled = announce
        number.announcement_text = ANNOUNCEMENT
        db.session.commit()


def _short_call(call_lab):  # noqa: ANN202
    return call_lab.call([WaitForAgentAudio(timeout_s=10),
                          WaitForAgentSilence(silence_s=0.6, timeout_s=15),
                          Say(text="Nein danke, tschüss."),
                          WaitForAgentSilence(silence_s=1.5, timeout_s=10)],
                         caller_number="491701234567", timeout_s=40)


def _start(call_lab) -> None:
    call_lab.stt = ScriptedSTT(["Nein danke, tschüss."])
    call_lab.llm = ScriptedLLM([{"reply": "Auf Wiederhören!", "action": "end",
                                 "target": "none"}])
    call_lab.tts = TextTones(ms_per_char=8.0, min_ms=300.0)
    call_lab.start().seed_practice()


def test_the_caller_hears_the_recording_announcement_before_the_greeting(call_lab):
    _start(call_lab)
    _configure(call_lab, record=True, announce=True)
    record = _short_call(call_lab)

    assert record.answered and record.hangup_by == "controller", record.errors
    tones = heard_tones(record.agent_audio, record.rate)
    assert tones[:2] == [ANNOUNCEMENT_HZ, OTHER_HZ], tones  # announcement, then the greeting
    assert tones.count(ANNOUNCEMENT_HZ) == 1
    assert call_lab.tts.spoken[:2] == [ANNOUNCEMENT, GREETING]
    chat = call_lab.chat(record.uuid)
    assert chat.transcript[:2] == [("agent", ANNOUNCEMENT), ("agent", GREETING)]
    assert len(chat.recordings) == 1
    wav = call_lab.node.settings.recordings_dir / chat.recordings[0]
    assert wav.is_file() and wav.stat().st_size > 44


def test_recording_off_writes_no_audio_file_and_the_chat_says_so(call_lab):
    _start(call_lab)
    _configure(call_lab, record=False, announce=False)
    record = _short_call(call_lab)

    assert record.answered and record.hangup_by == "controller", record.errors
    assert heard_tones(record.agent_audio, record.rate)[0] == OTHER_HZ  # the greeting first
    chat = call_lab.chat(record.uuid)
    assert chat.recordings == []
    assert "recording_off" in chat.event_kinds()
    assert chat.transcript[0] == ("agent", GREETING)
    folder: Path = call_lab.node.settings.recordings_dir
    assert not [p for p in folder.rglob("*") if p.is_file()], "no audio file at all"


def test_without_announcement_the_greeting_comes_first_and_the_call_is_recorded(call_lab):
    _start(call_lab)
    _configure(call_lab, record=True, announce=False)
    record = _short_call(call_lab)

    assert heard_tones(record.agent_audio, record.rate)[0] == OTHER_HZ
    chat = call_lab.chat(record.uuid)
    assert ANNOUNCEMENT not in [text for _role, text in chat.transcript]
    assert len(chat.recordings) == 1
