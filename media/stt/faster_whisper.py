"""faster-whisper backend (CTranslate2): a model folder with ``model.bin``, ``config.json``,
``vocabulary.*`` and ``tokenizer.json`` — the last one matters: without it faster-whisper tries
to download a tokenizer, which a node without internet cannot.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..engines import Audio, EngineError, EngineUnavailable, Transcript
from . import make_transcript, whisper_input

logger = logging.getLogger(__name__)

REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")


def missing_files(folder: Path) -> list[str]:
    """Files a faster-whisper model folder lacks (empty when it is complete)."""
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if not any(folder.glob("vocabulary.*")):
        missing.append("vocabulary.json")
    return missing


class FasterWhisperSTT:
    """Speech-to-text with faster-whisper; int8 on CPU by default.

    CTranslate2 queues concurrent calls itself (``workers`` run in parallel), so no lock here.
    """

    name = "faster-whisper"

    def __init__(self, model_dir: str | Path, *, device: str = "cpu", compute_type: str = "int8",
                 threads: int = 0, workers: int = 1, beam_size: int = 1,
                 max_new_tokens: int | None = None):
        folder = Path(model_dir)
        missing = missing_files(folder) if folder.is_dir() else ["(Ordner / folder)"]
        if missing:
            raise EngineUnavailable(
                self.name, f"Modell unvollständig / model incomplete in {folder}: "
                f"{', '.join(missing)} fehlt / missing")
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise EngineUnavailable(
                self.name, f"faster-whisper ist nicht installiert / not installed: {exc}"
            ) from exc
        try:
            self._model = WhisperModel(str(folder), device=device, compute_type=compute_type,
                                       cpu_threads=threads, num_workers=workers,
                                       local_files_only=True)
        except Exception as exc:
            raise EngineUnavailable(
                self.name, f"Modell {folder.name} lässt sich nicht laden / cannot load: {exc}"
            ) from exc
        self.model_dir = folder
        self.beam_size = beam_size
        self.max_new_tokens = max_new_tokens
        logger.info("faster-whisper model %s loaded (%s, %s)", folder.name, device, compute_type)

    def transcribe(self, audio: Audio, *, language: str = "de") -> Transcript:
        try:
            samples = whisper_input(audio)
            segments, _info = self._model.transcribe(
                samples, language=language or None, task="transcribe", beam_size=self.beam_size,
                temperature=0.0, condition_on_previous_text=False, without_timestamps=True,
                max_new_tokens=self.max_new_tokens,
            )
            segments = list(segments)  # decoding happens while iterating
        except Exception as exc:
            raise EngineError(self.name, f"Transkription fehlgeschlagen / failed: {exc}") from exc
        text = "".join(s.text for s in segments)
        return make_transcript(self.name, text, [s.avg_logprob for s in segments], language)
