"""What the stand-in's caller does: script steps and the speech they say.

A script is a plain list of frozen step values, e.g.::

    [WaitForAgentAudio(), WaitForAgentSilence(), Say(text="Ich möchte einen Termin."),
     WaitForAgentSilence(), HangUp()]
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from esl_controller.offload import call_off_hub
from media.audio import read_wav, resample, rms_dbfs
from media.engines import Audio
from media.tts.espeak import EspeakTTS

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


@dataclass(frozen=True)
class Echo:
    """From now on the caller's line echoes what the agent sends (like FreeSWITCH's ``echo``
    app on the other leg of a loopback call)."""


Step = Say | Pause | WaitForAgentSilence | WaitForAgentAudio | HangUp | SendDtmf | Echo


@dataclass
class CallerSpeech:
    """One utterance of the caller, at any rate; the stand-in resamples it to the channel rate."""

    audio: Audio

    @classmethod
    def from_text(cls, text: str) -> CallerSpeech:
        return cls(espeak_de(text))

    @classmethod
    def from_wav(cls, path: str) -> CallerSpeech:
        return cls(read_wav(path))

    def pcm_at(self, rate: int) -> bytes:
        return resample(self.audio.pcm, self.audio.sample_rate, rate)


@functools.lru_cache(maxsize=256)
def espeak_de(text: str) -> Audio:
    """German speech from espeak-ng via the project's espeak backend, run the way the node runs
    it (``call_off_hub``: on the hub when gevent patched subprocess, as in ``voicegate call``,
    else in the thread pool), so every other call's 20 ms clock keeps running. Cached: a
    benchmark says the same sentence a hundred times."""
    tts = EspeakTTS(voice="de")
    return call_off_hub(tts, tts.synthesize, text)


def is_voiced(frame: bytes, threshold_dbfs: float = -45.0) -> bool:
    """Whether an L16 frame carries more than near-silence."""
    return len(frame) >= 2 and rms_dbfs(frame[: len(frame) // 2 * 2]) > threshold_dbfs
