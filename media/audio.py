"""PCM plumbing: 20 ms frames, resampling (soxr), WAV files, levels.

All PCM here is signed 16-bit little-endian mono (L16) unless a name says otherwise. This is the
project's one resampler and one WAV reader: use these instead of writing another.
"""

from __future__ import annotations

import logging
import math
import wave
from pathlib import Path

import numpy as np
import soxr

from .engines import Audio

logger = logging.getLogger(__name__)

FRAME_MS = 20
SAMPLE_WIDTH = 2  # bytes per L16 sample

_PCM16 = np.dtype("<i2")


def frame_bytes(rate: int) -> int:
    """Bytes of one 20 ms L16 frame at ``rate`` (320 at 8 kHz, 640 at 16 kHz)."""
    return rate * FRAME_MS // 1000 * SAMPLE_WIDTH


def _samples(pcm: bytes) -> np.ndarray:
    if len(pcm) % SAMPLE_WIDTH:
        raise ValueError(f"L16 PCM must have an even number of bytes, got {len(pcm)}")
    return np.frombuffer(pcm, dtype=_PCM16)


def _to_pcm(samples: np.ndarray) -> bytes:
    """Float or int samples in the int16 range to L16 bytes, clipping instead of wrapping."""
    if samples.dtype != _PCM16:
        samples = np.clip(np.rint(samples), -32768, 32767).astype(_PCM16)
    return samples.tobytes()


def resample(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """Resample a whole L16 buffer with soxr (high quality); the identity when the rates match.

    For audio that arrives in pieces use :class:`StreamResampler`: resampling each piece on its
    own leaves small clicks at the joins.
    """
    if from_rate <= 0 or to_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {from_rate} -> {to_rate}")
    if from_rate == to_rate:
        return bytes(pcm)
    samples = _samples(pcm)
    if samples.size == 0:
        return b""
    out = soxr.resample(samples.astype(np.float32), from_rate, to_rate, quality="HQ")
    return _to_pcm(out)


class StreamResampler:
    """Resamples L16 audio that arrives in pieces (e.g. streamed TTS) without joins."""

    def __init__(self, from_rate: int, to_rate: int):
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._stream = (
            None if from_rate == to_rate
            else soxr.ResampleStream(from_rate, to_rate, 1, dtype="float32", quality="HQ")
        )

    def push(self, pcm: bytes, *, last: bool = False) -> bytes:
        """Feed one piece; returns what is ready. Pass ``last=True`` with the final piece."""
        if self._stream is None:
            return bytes(pcm)
        samples = _samples(pcm).astype(np.float32)
        return _to_pcm(self._stream.resample_chunk(samples, last=last))


def to_rate(audio: Audio, rate: int) -> Audio:
    """``audio`` at ``rate`` (the same object when it already is)."""
    if audio.sample_rate == rate:
        return audio
    return Audio(pcm=resample(audio.pcm, audio.sample_rate, rate), sample_rate=rate)


def silence(ms: int, rate: int) -> bytes:
    """``ms`` milliseconds of digital silence at ``rate``."""
    return bytes(rate * ms // 1000 * SAMPLE_WIDTH)


def split_frames(pcm: bytes, rate: int) -> list[bytes]:
    """Cut L16 audio into 20 ms frames; the last one is zero-padded to full length."""
    size = frame_bytes(rate)
    frames = [pcm[i:i + size] for i in range(0, len(pcm), size)]
    if frames and len(frames[-1]) < size:
        frames[-1] = frames[-1] + bytes(size - len(frames[-1]))
    return frames


class FrameStream:
    """Re-chunks byte pieces of any size (RTP payloads, TTS chunks) into exact 20 ms frames.

    A piece may even end in the middle of a sample; the remainder waits for the next push.
    """

    def __init__(self, rate: int):
        self.rate = rate
        self.frame_size = frame_bytes(rate)
        self._buf = bytearray()

    def push(self, data: bytes) -> list[bytes]:
        """Add a piece; returns the complete frames it finished (possibly none)."""
        self._buf += data
        size = self.frame_size
        n = len(self._buf) // size * size
        if not n:
            return []
        frames = [bytes(self._buf[i:i + size]) for i in range(0, n, size)]
        del self._buf[:n]
        return frames

    def flush(self) -> bytes | None:
        """The buffered remainder as one zero-padded frame, or None when nothing is left."""
        if not self._buf:
            return None
        frame = bytes(self._buf) + bytes(self.frame_size - len(self._buf))
        self._buf.clear()
        return frame

    @property
    def pending(self) -> int:
        """Bytes waiting for a frame to fill up."""
        return len(self._buf)


def rms_dbfs(pcm: bytes) -> float:
    """RMS level in dBFS (full-scale sine ≈ -3 dBFS); -120.0 for silence or no samples."""
    samples = _samples(pcm)
    if samples.size == 0:
        return -120.0
    power = float(np.mean(np.square(samples, dtype=np.float64)))
    if power <= 0.0:
        return -120.0
    return max(-120.0, 10.0 * math.log10(power / 32768.0**2))


# ---------------------------------------------------------------------------- WAV files

def _to_int16(raw: bytes, width: int) -> np.ndarray:
    """Integer PCM of any WAV sample width to int16 (keeping the top 16 bits)."""
    if width == 1:  # 8-bit WAV is unsigned
        return ((np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8).astype(_PCM16)
    if width == 2:
        return np.frombuffer(raw, dtype=_PCM16)
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        return (b[:, 1].astype(np.uint16) | (b[:, 2].astype(np.uint16) << 8)).view(_PCM16)
    if width == 4:
        return (np.frombuffer(raw, dtype="<i4") >> 16).astype(_PCM16)
    raise ValueError(f"unsupported WAV sample width {width}")


def read_wav(path: str | Path) -> Audio:
    """Read a PCM WAV file as 16-bit mono at its own rate (channels are averaged)."""
    with wave.open(str(path), "rb") as w:
        channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        raw = w.readframes(w.getnframes())
    samples = _to_int16(raw[: len(raw) // (width * channels) * width * channels], width)
    if channels > 1:
        mixed = samples.reshape(-1, channels).astype(np.int32).sum(axis=1) // channels
        samples = mixed.astype(_PCM16)
    return Audio(pcm=samples.tobytes(), sample_rate=rate)


def write_wav(path: str | Path, audio: Audio) -> None:
    """Write ``audio`` as a 16-bit mono PCM WAV file."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(SAMPLE_WIDTH)
        w.setframerate(audio.sample_rate)
        w.writeframes(audio.pcm)
