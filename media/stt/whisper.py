"""openai-whisper backend: loads a ``.pt`` checkpoint from the node's model folder (no download).

Greedy decoding at temperature 0 without timestamps: the fastest settings, and on a phone line
the temperature fallback mostly adds seconds of latency, not accuracy.
"""

from __future__ import annotations

import logging
import threading
import warnings
from pathlib import Path

from ..engines import Audio, EngineError, EngineUnavailable, Transcript
from . import make_transcript, whisper_input

logger = logging.getLogger(__name__)


class WhisperSTT:
    """Speech-to-text with openai-whisper (PyTorch, CPU by default).

    One model serves all calls; decoding is serialised with a lock because whisper installs its
    key/value-cache hooks on the shared model for each decode.
    """

    name = "whisper"

    def __init__(self, model_path: str | Path, *, device: str = "cpu", threads: int = 0,
                 beam_size: int = 1, max_new_tokens: int | None = None):
        path = Path(model_path)
        if not path.is_file():
            raise EngineUnavailable(self.name, f"Modelldatei fehlt / model file missing: {path}")
        try:
            import torch
            import whisper
        except ImportError as exc:
            raise EngineUnavailable(
                self.name, f"openai-whisper ist nicht installiert / not installed: {exc}"
            ) from exc
        if threads > 0:
            torch.set_num_threads(threads)
        try:
            self._model = whisper.load_model(str(path), device=device)
        except Exception as exc:  # a corrupt or foreign file raises all sorts of errors
            raise EngineUnavailable(
                self.name, f"Modell {path.name} lässt sich nicht laden / cannot load: {exc}"
            ) from exc
        _load_vocabulary(self._model.is_multilingual, self._model.num_languages)
        self.model_path = path
        self.beam_size = beam_size
        self.max_new_tokens = max_new_tokens
        self._lock = threading.Lock()
        logger.info("whisper model %s loaded (%s)", path.name, device)

    def transcribe(self, audio: Audio, *, language: str = "de") -> Transcript:
        options: dict[str, object] = dict(
            language=language or None, task="transcribe", temperature=0.0, fp16=False,
            condition_on_previous_text=False, without_timestamps=True, verbose=None,
            beam_size=self.beam_size if self.beam_size > 1 else None,
        )
        if self.max_new_tokens:
            options["sample_len"] = self.max_new_tokens
        try:
            samples = whisper_input(audio)
            with self._lock:
                result = self._model.transcribe(samples, **options)
        except Exception as exc:
            raise EngineError(self.name, f"Transkription fehlgeschlagen / failed: {exc}") from exc
        segments = result.get("segments") or []
        return make_transcript(self.name, result.get("text"),
                               [s["avg_logprob"] for s in segments], language)


def _load_vocabulary(multilingual: bool, num_languages: int) -> None:
    """Load whisper's (cached) tokenizer once, up front.

    whisper reads its vocabulary file without closing it; the ResourceWarning that leaks is
    whisper's, not a fault of ours, so it is silenced here — once, since the result is cached
    (called with keywords exactly as ``get_tokenizer`` does, so the cache key matches).
    """
    import whisper.tokenizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        whisper.tokenizer.get_encoding(name="multilingual" if multilingual else "gpt2",
                                       num_languages=num_languages)
