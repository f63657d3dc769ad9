"""Real German speech for tests: espeak-ng sentences mixed with noise, pauses and other sounds.

Everything returns :class:`media.engines.Audio` (L16 mono). Synthesised sentences are cached per
process, so many tests can use the same sentence cheaply. Noise is seeded: a test hears the same
signal on every run.

    caller = concat(pause(500), german_speech("Ich hätte gern einen Termin."), pause(1000))
    noisy = with_noise(caller, snr_db=15, seed=1)
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from media.audio import FRAME_MS, resample
from media.engines import Audio
from media.tts.espeak import EspeakTTS

PINK_LOW_HZ = 100.0  # pink noise starts here: the line's high-pass removes the rumble below
_cache: dict[tuple[str, int, bool], Audio] = {}


def german_speech(text: str, rate: int = 8000, *, trim: bool = True) -> Audio:
    """``text`` spoken by espeak-ng's German voice, resampled to ``rate``.

    With ``trim`` the silence espeak puts before and after the speech is cut off, so speech starts
    at sample 0 and a test knows exactly where the onset is once it prepends a :func:`pause`.
    """
    key = (text, rate, trim)
    if key not in _cache:
        # the project's espeak-ng backend at espeak-ng's own default speed
        spoken = EspeakTTS(voice="de", speed_wpm=175).synthesize(text)
        pcm = _trim_silence(spoken.pcm, spoken.sample_rate) if trim else spoken.pcm
        _cache[key] = Audio(pcm=resample(pcm, spoken.sample_rate, rate), sample_rate=rate)
    return _cache[key]


def _trim_silence(pcm: bytes, rate: int, threshold: int = 300) -> bytes:
    samples = np.frombuffer(pcm, dtype="<i2")
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    if loud.size == 0:
        return b""
    return samples[loud[0]: loud[-1] + 1].tobytes()


def pause(ms: int, rate: int = 8000) -> Audio:
    """``ms`` milliseconds of digital silence (add noise over the whole mix with with_noise)."""
    return Audio(pcm=bytes(rate * ms // 1000 * 2), sample_rate=rate)


def concat(*parts: Audio) -> Audio:
    """Play ``parts`` one after another; all must share one sample rate."""
    if not parts:
        raise ValueError("concat needs at least one part")
    rate = parts[0].sample_rate
    if any(p.sample_rate != rate for p in parts):
        raise ValueError(f"mixed sample rates: {[p.sample_rate for p in parts]}")
    return Audio(pcm=b"".join(p.pcm for p in parts), sample_rate=rate)


def duration_ms(audio: Audio) -> int:
    return len(audio.pcm) // 2 * 1000 // audio.sample_rate


def _samples(audio: Audio) -> np.ndarray:
    return np.frombuffer(audio.pcm, dtype="<i2").astype(np.float64)


def _to_audio(samples: np.ndarray, rate: int) -> Audio:
    pcm = np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes()
    return Audio(pcm=pcm, sample_rate=rate)


def active_power(audio: Audio) -> float:
    """Mean power of the 20 ms frames within 40 dB of the loudest one (the active speech level)."""
    x = _samples(audio)
    n = audio.sample_rate * FRAME_MS // 1000
    frames = x[: x.size // n * n].reshape(-1, n)
    if frames.size == 0:
        return 0.0
    power = np.mean(frames**2, axis=1)
    active = power[power >= power.max() * 1e-4]
    return float(active.mean()) if active.size else 0.0


def noise(ms: int, rate: int = 8000, *, level_dbfs: float = -40.0, seed: int = 0,
          color: Literal["white", "pink"] = "white") -> Audio:
    """Gaussian noise at an RMS level of ``level_dbfs``; pink noise has a 1/f spectrum from
    100 Hz up."""
    n = rate * ms // 1000
    x = _noise(n, rate, np.random.default_rng(seed), color)
    return _to_audio(x * 32768.0 * 10 ** (level_dbfs / 20), rate)


def _noise(n: int, rate: int, rng: np.random.Generator, color: str) -> np.ndarray:
    """Unit-RMS noise of ``color``."""
    x = rng.standard_normal(n)
    if color == "pink" and n > 1:
        spectrum = np.fft.rfft(x)
        freqs = np.fft.rfftfreq(n, 1 / rate)
        band = freqs >= PINK_LOW_HZ  # a phone line carries nothing much lower
        spectrum[band] /= np.sqrt(freqs[band] / PINK_LOW_HZ)
        spectrum[~band] = 0
        x = np.fft.irfft(spectrum, n)
    elif color not in ("white", "pink"):
        raise ValueError(f"unknown noise color {color!r}")
    rms = np.sqrt(np.mean(x**2)) if n else 1.0
    return x / rms if rms > 0 else x


def with_noise(audio: Audio, snr_db: float, seed: int = 0,
               color: Literal["white", "pink"] = "white") -> Audio:
    """``audio`` with noise added over its whole length, ``snr_db`` below the active speech level.

    Pauses get the same noise, as on a real line: the VAD must tell speech from noise, not from
    digital silence.
    """
    x = _samples(audio)
    level = np.sqrt(active_power(audio)) * 10 ** (-snr_db / 20)
    n = _noise(x.size, audio.sample_rate, np.random.default_rng(seed), color)
    return _to_audio(x + level * n, audio.sample_rate)


def mix(a: Audio, b: Audio, offset_ms: int = 0) -> Audio:
    """``b`` added onto ``a`` starting ``offset_ms`` in; the result is as long as needed."""
    if a.sample_rate != b.sample_rate:
        raise ValueError("mix needs one sample rate")
    xa, xb = _samples(a), _samples(b)
    start = a.sample_rate * offset_ms // 1000
    out = np.zeros(max(xa.size, start + xb.size))
    out[: xa.size] += xa
    out[start: start + xb.size] += xb
    return _to_audio(out, a.sample_rate)


def breath(ms: int = 400, rate: int = 8000, *, level_dbfs: float = -35.0, seed: int = 0) -> Audio:
    """A breath: soft noise (weighted to the low-mid band) under a smooth rise-and-fall envelope."""
    n = rate * ms // 1000
    x = _noise(n, rate, np.random.default_rng(seed), "pink")
    envelope = np.sin(np.linspace(0, np.pi, n)) ** 2
    return _to_audio(x * envelope * 32768.0 * 10 ** (level_dbfs / 20) * np.sqrt(8 / 3), rate)


def click(rate: int = 8000, *, level_dbfs: float = -6.0, ms: float = 3.0) -> Audio:
    """A click or line pop: a few milliseconds of a loud, fast-decaying impulse."""
    n = max(1, int(rate * ms / 1000))
    x = np.exp(-np.arange(n) / max(1.0, n / 4)) * np.where(np.arange(n) % 2, -1.0, 1.0)
    return _to_audio(x * 32768.0 * 10 ** (level_dbfs / 20), rate)


def noise_burst(ms: int = 80, rate: int = 8000, *, level_dbfs: float = -15.0,
                seed: int = 0) -> Audio:
    """A short loud noise (a knock, the handset bumping): white noise for ``ms`` milliseconds."""
    return noise(ms, rate, level_dbfs=level_dbfs, seed=seed)
