"""What the stand-in's caller does: script steps and the speech they say.

A script is a plain list of frozen step values, e.g.::

    [WaitForAgentAudio(), WaitForAgentSilence(), Say(text="Ich möchte einen Termin."),
     WaitForAgentSilence(), HangUp()]
"""

from __future__ import annotations

import functools
import io
import logging
import wave
from dataclasses import dataclass

import numpy as np
from gevent import subprocess

from media.engines import Audio

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Say:
    """The caller speaks: ``audio`` (any rate) or ``text`` spoken by espeak-ng in German."""

    audio: Audio | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        if (self.audio is None) == (self.text is None):
            raise ValueError("Say needs exactly one of audio or text")


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class WaitForAgentSilence:
    """Until the agent sent no voiced audio for ``silence_s``."""

    silence_s: float = 0.6
    timeout_s: float = 30.0


@dataclass(frozen=True)
class WaitForAgentAudio:
    """Until the agent starts sending voiced audio."""

    timeout_s: float = 30.0


@dataclass(frozen=True)
class HangUp:
    """The caller hangs up (NORMAL_CLEARING)."""


@dataclass(frozen=True)
class SendDtmf:
    digit: str


Step = Say | Pause | WaitForAgentSilence | WaitForAgentAudio | HangUp | SendDtmf


@dataclass
class CallerSpeech:
    """One utterance of the caller, at any rate; the stand-in resamples it to the channel rate."""

    audio: Audio

    @classmethod
    def from_text(cls, text: str) -> CallerSpeech:
        return cls(espeak_de(text))

    def pcm_at(self, rate: int) -> bytes:
        return resample(self.audio.pcm, self.audio.sample_rate, rate)


def resample(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """L16 resampling. Uses ``media.audio.resample`` (the project's one resampler) when it
    exists, else soxr directly."""
    if from_rate == to_rate or not pcm:
        return pcm
    try:
        from media.audio import resample as project_resample
    except ImportError:
        import soxr

        samples = np.frombuffer(pcm, dtype="<i2")
        return soxr.resample(samples, from_rate, to_rate).astype("<i2").tobytes()
    return project_resample(pcm, from_rate, to_rate)


@functools.lru_cache(maxsize=256)
def espeak_de(text: str) -> Audio:
    """German speech from espeak-ng (cached: a benchmark says the same sentence 100 times)."""
    proc = subprocess.run(["espeak-ng", "-v", "de", "--stdout", text],
                          capture_output=True, timeout=30, check=True)
    with wave.open(io.BytesIO(proc.stdout)) as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise ValueError("espeak-ng did not produce mono 16-bit audio")
        frames = wav.readframes(wav.getnframes())
        return Audio(pcm=frames, sample_rate=wav.getframerate())


def read_wav(path: str) -> Audio:
    """A mono 16-bit WAV file as Audio."""
    with wave.open(path) as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise ValueError(f"{path}: need mono 16-bit PCM")
        return Audio(pcm=wav.readframes(wav.getnframes()), sample_rate=wav.getframerate())


def is_voiced(frame: bytes, threshold: float = 200.0) -> bool:
    """Whether an L16 frame carries more than near-silence (RMS above ``threshold``)."""
    if len(frame) < 2:
        return False
    samples = np.frombuffer(frame[: len(frame) // 2 * 2], dtype="<i2").astype(np.float32)
    return float(np.sqrt(np.mean(samples * samples))) > threshold
