"""Speech-to-text backends: the real openai-whisper and faster-whisper loading and decoding code on
tiny random models (tests/tiny_models.py). The words are nonsense; the path is real."""

from __future__ import annotations

import pytest

from media.engines import Audio, EngineError, EngineUnavailable, SpeechToText
from media.stt.faster_whisper import FasterWhisperSTT
from media.stt.whisper import WhisperSTT
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


def test_both_backends_decode_the_same_weights_to_the_same_text(whisper_stt, faster_stt,
                                                               caller_8k):
    """The CTranslate2 model is a conversion of the whisper checkpoint: same audio, same tokens."""
    assert whisper_stt.transcribe(caller_8k).text == faster_stt.transcribe(caller_8k).text


@pytest.mark.parametrize("engine", ["whisper_stt", "faster_stt"])
def test_output_is_deterministic(engine, caller_8k, request):
    stt = request.getfixturevalue(engine)
    assert stt.transcribe(caller_8k) == stt.transcribe(caller_8k)


@pytest.mark.parametrize("engine", ["whisper_stt", "faster_stt"])
def test_accepts_16k_and_8k_audio(engine, request):
    stt = request.getfixturevalue(engine)
    wide = german_speech("Hallo", rate=16000)
    assert isinstance(stt.transcribe(wide, language="en").text, str)


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
