"""Two-channel call recording (caller left, agent right), written to disk while the call runs.

The caller's frames arrive continuously (every 20 ms) and drive the timeline; agent audio
arrives only while the agent speaks and is placed at the moment it was handed over (the current
end of the caller timeline), or right after the agent audio before it when it comes in a burst.
Where nothing was sent, the right channel is silent.

The file is written in blocks of ``flush_ms`` and its WAV header is patched after every block,
so a crash leaves a valid, playable file holding everything up to the last block.
"""

from __future__ import annotations

import logging
import threading
import wave
from pathlib import Path

import numpy as np

from .audio import SAMPLE_WIDTH

logger = logging.getLogger(__name__)

_PCM16 = np.dtype("<i2")


class CallRecorder:
    """Records one call as a stereo 16-bit WAV at the channel rate.

    ``add_caller`` / ``add_agent`` take L16 mono pieces of any length (normally 20 ms frames).
    Safe to use from two threads or greenlets (receiver and sender).
    ``path`` None: recording is off for this call — nothing is written, not even an empty file.
    """

    def __init__(self, path: Path | None, sample_rate: int, *, flush_ms: int = 1000):
        self.path = Path(path) if path is not None else None
        self.sample_rate = sample_rate
        self._flush_bytes = max(1, sample_rate * flush_ms // 1000) * SAMPLE_WIDTH
        self._lock = threading.Lock()
        self._written = 0  # samples per channel already on disk
        self._caller = bytearray()  # caller audio from sample _written on
        self._agent = bytearray()  # agent audio from sample _written on (may run ahead)
        self._agent_end = 0  # timeline sample where the agent audio added so far ends
        self._duration_s = 0.0
        if self.path is None:
            self._wav: wave.Wave_write | None = None
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "wb")  # closed in close()
        self._wav = wave.open(self._file, "wb")
        self._wav.setnchannels(2)
        self._wav.setsampwidth(SAMPLE_WIDTH)
        self._wav.setframerate(sample_rate)
        self._wav.writeframes(b"")  # header on disk from the start (0 frames)
        self._file.flush()

    @property
    def caller_ms(self) -> int:
        """Length of the caller timeline so far (the recording's "now")."""
        return (self._written + len(self._caller) // SAMPLE_WIDTH) * 1000 // self.sample_rate

    def add_caller(self, pcm: bytes) -> None:
        """Append caller audio; it advances the recording's clock."""
        with self._lock:
            if self._wav is None:
                return
            self._caller += pcm
            if len(self._caller) >= self._flush_bytes:
                self._write(len(self._caller) // SAMPLE_WIDTH)

    def add_agent(self, pcm: bytes) -> None:
        """Place agent audio at the current time (after earlier agent audio if that runs on)."""
        with self._lock:
            if self._wav is None:
                return
            now = self._written + len(self._caller) // SAMPLE_WIDTH
            start = max(now, self._agent_end)
            offset = (start - self._written) * SAMPLE_WIDTH
            if len(self._agent) < offset:
                self._agent += bytes(offset - len(self._agent))
            self._agent += pcm
            self._agent_end = start + len(pcm) // SAMPLE_WIDTH

    def close(self) -> float:
        """Write what is left (agent audio past the caller's end too) and return the duration."""
        with self._lock:
            if self._wav is None:
                return self._duration_s
            samples = max(len(self._caller), len(self._agent)) // SAMPLE_WIDTH
            try:
                self._write(samples)
            finally:
                self._wav.close()
                self._file.close()
                self._wav = None
            self._duration_s = self._written / self.sample_rate
            logger.info("recording %s closed: %.1f s", self.path, self._duration_s)
            return self._duration_s

    def __enter__(self) -> CallRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, samples: int) -> None:
        """Interleave and write the first ``samples`` of both channels (padding with silence)."""
        if samples <= 0:
            return
        size = samples * SAMPLE_WIDTH
        stereo = np.zeros((samples, 2), dtype=_PCM16)
        caller = np.frombuffer(self._caller, dtype=_PCM16, count=min(len(self._caller), size) // 2)
        agent = np.frombuffer(self._agent, dtype=_PCM16, count=min(len(self._agent), size) // 2)
        stereo[: caller.size, 0] = caller
        stereo[: agent.size, 1] = agent
        del caller, agent  # release the buffer views before resizing the bytearrays
        self._wav.writeframes(stereo.tobytes())  # wave patches the header sizes itself
        self._file.flush()
        del self._caller[:size]
        del self._agent[:size]
        self._written += samples
