"""Speech-to-text backends: the real openai-whisper and faster-whisper loading and decoding code on
tiny random models (tests/tiny_models.py), where the words are nonsense but the path is real; and
the real Whisper base model a node installs, where the words must be right."""

from __future__ import annotations

import pytest

from media.audio import resample
from media.engines import Audio, EngineError, EngineUnavailable, SpeechToText
from media.stt.faster_whisper import FasterWhisperSTT
from media.stt.whisper import WhisperSTT
from media.tts.espeak import EspeakTTS
from tests.real_models import whisper_base_dir
from tests.speech import german_speech, with_noise
from tests.tiny_models import cached_model_dir


@pytest.fixture(scope="module")
def caller_8k() -> Audio:
    return with_noise(german_speech("Guten Tag, ich hätte gern einen Termin am Montag."),
                      snr_db=20, seed=3)


@pytest.fixture(scope="module")
def whisper_stt() -> WhisperSTT:
    return WhisperSTT(cached_model_dir("whisper"))


@pytest.fixture(scope="module")
def faster_stt() -> FasterWhisperSTT:
    return FasterWhisperSTT(cached_model_dir("faster-whisper"), threads=1)


@pytest.mark.parametrize("engine", ["whisper_stt", "faster_stt"])
def test_transcribes_a_phone_utterance_through_the_real_model(engine, caller_8k, request):
    stt = request.getfixturevalue(engine)
    assert isinstance(stt, SpeechToText)
    transcript = stt.transcribe(caller_8k)
    assert isinstance(transcript.text, str) and transcript.text  # random model: some token
    assert transcript.language == "de"
    assert transcript.confidence is not None and 0.0 < transcript.confidence <= 1.0


@pytest.mark.slow
def test_the_installed_base_model_hears_a_german_caller_at_8_khz():
    """Random weights decoded by two backends need not agree; real recognition needs the real
    model — the one `voicegate models pull` installs on every node."""
    stt = FasterWhisperSTT(whisper_base_dir(), threads=2)
    spoken = EspeakTTS(voice="de+m3", speed_wpm=160).synthesize(
        "Guten Tag, ich hätte gern einen Termin am Montag.")
    caller = Audio(pcm=resample(spoken.pcm, spoken.sample_rate, 8000), sample_rate=8000)
    transcript = stt.transcribe(caller, language="de")
    assert "Termin" in transcript.text and "Montag" in transcript.text, transcript.text


@pytest.mark.parametrize("engine", ["whisper_stt", "faster_stt"])
def test_output_is_deterministic(engine, caller_8k, request):
    stt = request.getfixturevalue(engine)
    assert stt.transcribe(caller_8k) == stt.transcribe(caller_8k)


@pytest.mark.parametrize("engine", ["whisper_stt", "faster_stt"])
def test_accepts_16k_and_8k_audio(engine, request):
    stt = request.getfixturevalue(engine)
    wide = german_speech("Hallo", rate=16000)
    assert isinstance(stt.transcribe(wide, language="en").text, str)


def test_special_tokens_never_reach_the_transcript():
    """A random model emits <|notimestamps|> as text; a transcript must not carry such tokens."""
    stt = WhisperSTT(cached_model_dir("whisper", eot_bias=0.0), max_new_tokens=12)
    text = stt.transcribe(german_speech("Hallo")).text
    assert text and "<|" not in text


@pytest.mark.parametrize("engine", ["whisper_stt", "faster_stt"])
def test_broken_audio_is_an_engine_error(engine, request):
    stt = request.getfixturevalue(engine)
    with pytest.raises(EngineError, match="Transkription fehlgeschlagen"):
        stt.transcribe(Audio(pcm=b"\x01\x02\x03", sample_rate=8000))


def test_missing_whisper_checkpoint_is_unavailable_and_names_the_file(tmp_path):
    with pytest.raises(EngineUnavailable, match="small.pt"):
        WhisperSTT(tmp_path / "small.pt")


def test_corrupt_whisper_checkpoint_is_unavailable(tmp_path):
    broken = tmp_path / "small.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(EngineUnavailable, match="lässt sich nicht laden"):
        WhisperSTT(broken)


def test_faster_whisper_without_tokenizer_is_unavailable_instead_of_downloading(tmp_path):
    source = cached_model_dir("faster-whisper")
    for name in ("model.bin", "config.json", "vocabulary.json"):
        (tmp_path / name).write_bytes((source / name).read_bytes())
    with pytest.raises(EngineUnavailable, match="tokenizer.json"):
        FasterWhisperSTT(tmp_path)


def test_faster_whisper_with_missing_folder_is_unavailable(tmp_path):
    with pytest.raises(EngineUnavailable, match="model incomplete"):
        FasterWhisperSTT(tmp_path / "small")


@pytest.mark.parametrize("backend", ["whisper", "faster-whisper"])
def test_concurrent_calls_share_one_model_safely(backend, caller_8k):
    """Several calls transcribe at once (the call path's thread pool): same answers as alone.

    The model decodes 12 tokens per utterance here, so decodes really overlap (whisper's
    key/value-cache hooks on a shared model break without the engine's lock)."""
    from concurrent.futures import ThreadPoolExecutor

    model = cached_model_dir(backend, eot_bias=0.0)
    stt = (WhisperSTT(model, max_new_tokens=12) if backend == "whisper"
           else FasterWhisperSTT(model, max_new_tokens=12, workers=2))
    other = german_speech("Bitte verbinden Sie mich mit der Buchhaltung.")
    alone = [stt.transcribe(caller_8k), stt.transcribe(other)]
    assert alone[0] != alone[1]  # different audio, different scores
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(stt.transcribe, [caller_8k, other] * 3))
    assert together == alone * 3
