"""Speech-to-text backends: openai-whisper (``whisper``) and faster-whisper (``faster_whisper``).

Both take the caller's utterance at any rate and hand Whisper what it needs: 16 kHz float32.
"""

from __future__ import annotations

import math
import re

import numpy as np

from ..audio import to_rate
from ..engines import Audio, EngineError, Transcript

WHISPER_RATE = 16000
_SPECIAL_TOKEN = re.compile(r"<\|[^|<>]{1,30}\|>")


def whisper_input(audio: Audio) -> np.ndarray:
    """``audio`` as the 16 kHz float32 samples in [-1, 1] that Whisper models take."""
    pcm = to_rate(audio, WHISPER_RATE).pcm
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def make_transcript(engine: str, text: object, avg_logprobs: list[float],
                    language: str) -> Transcript:
    """Check what a model returned and wrap it; a non-text answer is an engine fault."""
    if not isinstance(text, str):
        raise EngineError(engine, f"Transkript ist kein Text / transcript is not text: {text!r}")
    text = re.sub(r"\s{2,}", " ", _SPECIAL_TOKEN.sub(" ", text))  # <|notimestamps|> etc.
    confidence = None
    if avg_logprobs:
        confidence = min(1.0, math.exp(sum(avg_logprobs) / len(avg_logprobs)))
    return Transcript(text=text.strip(), language=language or "de", confidence=confidence)
