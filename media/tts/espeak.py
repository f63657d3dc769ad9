"""espeak-ng backend: a real subprocess per sentence (12–33 ms), 22050 Hz; the voice follows the
call's language (``de`` by default) unless one is configured.

Robotic but tiny and always available — the light fallback voice.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..audio import read_wav
from ..engines import Audio, EngineError, EngineTimeout, EngineUnavailable
from ..textnorm import normalize

logger = logging.getLogger(__name__)


class EspeakTTS:
    """Speaks with the ``espeak-ng`` binary; ``voice`` is an espeak voice name (``de``,
    ``de+f3``, ``en``) — empty: the voice of the language asked for."""

    name = "espeak"
    waits_on = "subprocess"  # it waits for the espeak-ng process (esl_controller/offload.py)

    def __init__(self, *, voice: str = "", speed_wpm: int = 160, pitch: int = 50,
                 timeout_s: float = 10.0, binary: str = "espeak-ng"):
        path = shutil.which(binary)
        if path is None:
            raise EngineUnavailable(
                self.name, f"{binary} ist nicht installiert / not installed (apt-get install "
                "espeak-ng)")
        self.binary = path
        self.voice = voice
        self.speed_wpm = speed_wpm
        self.pitch = pitch
        self.timeout_s = timeout_s

    def synthesize(self, text: str, *, language: str = "de", voice: str = "") -> Audio:
        spoken = normalize(text, language)
        with tempfile.TemporaryDirectory(prefix="voicegate-espeak-") as tmp:
            out = Path(tmp) / "say.wav"
            command = [self.binary, "-v", voice or self.voice or language, "-s",
                       str(self.speed_wpm), "-p", str(self.pitch), "-b", "1", "-w", str(out),
                       "--stdin"]
            try:
                done = subprocess.run(command, input=spoken.encode("utf-8"), capture_output=True,
                                      timeout=self.timeout_s, check=False)
            except subprocess.TimeoutExpired as exc:
                raise EngineTimeout(
                    self.name, f"keine Antwort nach / no answer after {self.timeout_s:g} s"
                ) from exc
            if done.returncode != 0:
                detail = done.stderr.decode("utf-8", "replace").strip()
                raise EngineError(self.name, f"Exit-Code / exit code {done.returncode}: {detail}")
            try:
                audio = read_wav(out)
            except Exception as exc:  # missing or truncated file: wave/EOF/value errors
                raise EngineError(self.name, f"unlesbare Ausgabe / unreadable output: {exc}"
                                  ) from exc
        if spoken.strip() and not audio.pcm:
            raise EngineError(self.name, "kein Ton erzeugt / produced no audio")
        return audio
