"""Turn-taking: webrtcvad on 20 ms frames plus an endpointer that decides when a caller's turn
starts and ends.

``Endpointer.feed`` takes one frame and returns events:

- :class:`SpeechStarted` once ``min_speech_ms`` of mostly voiced audio arrived that also has a
  pitch (vowels are periodic; breaths, clicks and noise bursts are not). It comes
  ``min_speech_ms`` (+ a frame or two) after the first voiced frame. The call path turns it into
  a barge-in when the agent is talking (``esl_controller/call_audio.py``, ``CallerEar``).
- :class:`UtteranceEnded` after ``silence_ms`` without speech. It carries the utterance from
  ``pre_roll_ms`` before the onset up to ~100 ms after the last speech. A turn longer than
  ``max_utterance_s`` is delivered in pieces (``cut=True``), so memory stays bounded.

Events always alternate: SpeechStarted, UtteranceEnded, SpeechStarted, ...
:meth:`Endpointer.end_utterance` ends a running turn from outside (the caller's audio stopped).

The options (silence, minimum speech) are the agent's ``config.turn_taking.TurnTaking``; their
one default is ``DEFAULT_TURN_TAKING``.

Two checks on top of webrtcvad, both learnt from its failures on phone audio:

- A pitch check at onsets. webrtcvad's decision has a built-in hangover of about 80 ms, so a
  3 ms click or a 60 ms knock yields six or more "speech" frames, and it calls breaths speech
  outright. The check (numpy, ~30 µs) runs only for frames of a would-be onset, never during a
  turn or in plain silence.
- A noise-floor gate. On a noisy line (10 dB SNR) webrtcvad calls most noise speech, and a turn
  would never end. During a turn a frame counts as speech only when it is also 4 dB above a
  running noise-floor estimate (energy of 40 samples per frame, pure Python, ~2 µs).

Times are stream times in ms: frame *n* (counting from 0 since the endpointer was created) covers
``[20 n, 20 n + 20)``. The hot path is one webrtcvad call, one small energy sum and a few
integer operations and list appends of the caller's frame objects; it allocates no buffers.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from operator import mul

import numpy as np
import webrtcvad

from config.turn_taking import DEFAULT_TURN_TAKING

from .audio import FRAME_MS, frame_bytes
from .engines import Audio

logger = logging.getLogger(__name__)

VAD_RATES = (8000, 16000, 32000, 48000)
TAIL_MS = 100  # audio kept after the last speech frame: word endings webrtcvad calls unvoiced
NOISE_MARGIN_DB = 4.0  # a frame must be this much louder than the line's noise floor
NOISE_FLOOR_RISE_DB_S = 4.0  # how fast the floor estimate follows a line getting noisier
_VAD, _LOUD = 1, 2  # onset window flags: webrtcvad says speech; above the noise floor
PERIODIC_RHO = 0.6  # normalised autocorrelation at the pitch lag that counts as voiced speech
MIN_PERIODIC_FRAMES = 2  # periodic 40 ms segments needed in the onset window


@dataclass(frozen=True)
class SpeechStarted:
    at_ms: int  # stream time of the first voiced frame of the utterance
    detected_at_ms: int = 0  # stream time at which the endpointer decided (end of the frame fed)


@dataclass(frozen=True)
class UtteranceEnded:
    audio: Audio  # from the pre-roll up to ~TAIL_MS after the last speech
    started_at_ms: int  # = SpeechStarted.at_ms of this utterance
    last_speech_ms: int  # end of the last voiced frame
    ended_at_ms: int  # when the end was decided; minus last_speech_ms = the endpoint silence
    cut: bool = False  # True when cut at max_utterance_s rather than ended by silence


VadEvent = SpeechStarted | UtteranceEnded


class Endpointer:
    """Finds the start and end of caller utterances in a stream of 20 ms L16 frames.

    One instance per call and direction; not thread-safe (one greenlet feeds it).
    """

    def __init__(self, sample_rate: int = 8000, *,
                 silence_ms: int = DEFAULT_TURN_TAKING.endpoint_silence_ms,
                 min_speech_ms: int = DEFAULT_TURN_TAKING.min_speech_ms,
                 aggressiveness: int = 2, pre_roll_ms: int = 200, max_utterance_s: float = 30.0):
        if sample_rate not in VAD_RATES:
            raise ValueError(f"webrtcvad supports {VAD_RATES} Hz, not {sample_rate}")
        if not 0 <= aggressiveness <= 3:
            raise ValueError(f"aggressiveness must be 0..3, got {aggressiveness}")
        if pre_roll_ms < 0 or max_utterance_s * 1000 < 10 * FRAME_MS:
            raise ValueError("pre_roll_ms >= 0, max_utterance_s >= 0.2 needed")
        self.sample_rate = sample_rate
        self.aggressiveness = aggressiveness
        self.pre_roll_ms = pre_roll_ms
        self.max_utterance_s = max_utterance_s
        self.silence_ms = silence_ms  # property: validates and sets the frame count
        self._frame_size = frame_bytes(sample_rate)
        self._vad = webrtcvad.Vad(aggressiveness)
        self._pre_roll_frames = pre_roll_ms // FRAME_MS
        self._in_speech = False
        self.min_speech_ms = min_speech_ms  # property: sets the onset window
        self._tail_frames = TAIL_MS // FRAME_MS
        self._pitch = _PitchDetector(sample_rate)
        # Energy from every n-th sample (40 per frame): a level estimate, ~2 µs in pure Python.
        self._energy_step = max(1, sample_rate * FRAME_MS // 1000 // 40)
        self._floor = -1.0  # noise floor (sum of squares of those samples); set by frame one
        self._floor_rise = 10 ** (NOISE_FLOOR_RISE_DB_S * FRAME_MS / 1000 / 10)
        self._gate = 10 ** (NOISE_MARGIN_DB / 10)
        self._min_floor = 40 * (32768 * 10 ** (-80 / 20)) ** 2  # -80 dBFS
        self._max_frames = max(1, int(max_utterance_s * 1000) // FRAME_MS)
        self._index = 0  # index of the next frame
        self.reset()

    # -------------------------------------------------------------------------------- settings

    @property
    def silence_ms(self) -> int:
        """Silence that ends an utterance; may be changed between turns (per agent)."""
        return self._silence_ms

    @silence_ms.setter
    def silence_ms(self, value: int) -> None:
        if value < FRAME_MS:
            raise ValueError(f"silence_ms must be at least {FRAME_MS}, got {value}")
        self._silence_ms = value
        self._silence_frames = math.ceil(value / FRAME_MS)

    @property
    def min_speech_ms(self) -> int:
        """Voiced audio that starts a turn; may be changed between turns (per agent)."""
        return self._min_speech_ms

    @min_speech_ms.setter
    def min_speech_ms(self, value: int) -> None:
        if value < FRAME_MS:
            raise ValueError(f"min_speech_ms must be at least {FRAME_MS}, got {value}")
        self._min_speech_ms = value
        self._min_frames = math.ceil(value / FRAME_MS)
        # "Mostly voiced": min_frames voiced among a window a third longer (6 of 8 at 120 ms).
        self._window = self._min_frames + max(1, self._min_frames // 3)
        if not self._in_speech:  # a running turn keeps its frames; the onset history restarts
            self._reset_onset()

    @property
    def in_speech(self) -> bool:
        """True between SpeechStarted and the matching UtteranceEnded."""
        return self._in_speech

    @property
    def now_ms(self) -> int:
        """Stream time at the end of the last frame fed."""
        return self._index * FRAME_MS

    def reset(self) -> None:
        """Drop a running utterance and the onset history (e.g. after a transfer).

        The stream clock keeps running; webrtcvad and the noise floor keep what they learnt.
        """
        self._in_speech = False
        self._reset_onset()
        # in speech
        self._utt: list[bytes] = []
        self._started_ms = 0
        self._last_voiced_pos = -1  # position in _utt of the last confirmed speech frame
        self._last_voiced_end_ms = 0
        self._silence_run = 0
        self._prev_voiced = 0  # voiced flags of the two previous frames, as bits

    def _reset_onset(self) -> None:
        # idle: recent frames (for the pre-roll) and the voiced flags of the onset window
        self._recent: deque[bytes] = deque(maxlen=self._pre_roll_frames + self._window)
        self._flags: deque[int] = deque(maxlen=self._window)  # 0, _VAD or _VAD | _LOUD
        self._periodic: deque[bool | None] = deque(maxlen=self._window)  # None: not checked
        self._voiced_in_window = 0

    def end_utterance(self) -> UtteranceEnded | None:
        """End a running turn now, with what was heard (the caller's audio stopped arriving
        mid-speech); None when no turn is running."""
        if not self._in_speech:
            return None
        if self._last_voiced_pos < 0:  # just cut at max_utterance_s: nothing voiced since
            self.reset()
            return None
        return self._end(self._index - 1, cut=True)

    # -------------------------------------------------------------------------------- hot path

    def feed(self, frame: bytes) -> list[VadEvent]:
        """Process one 20 ms frame; returns the events it caused (usually none)."""
        if len(frame) != self._frame_size:
            raise ValueError(f"expected a {self._frame_size}-byte frame, got {len(frame)} bytes")
        if type(frame) is not bytes:  # the caller may reuse its buffer; we keep the frame
            frame = bytes(frame)
        samples = memoryview(frame).cast("h")[:: self._energy_step]
        energy = sum(map(mul, samples, samples))
        floor = self._floor
        if floor < 0.0:
            floor = energy
        elif energy < floor:
            floor += (energy - floor) * 0.2
        else:
            floor *= self._floor_rise
        self._floor = floor = max(floor, self._min_floor)
        # webrtcvad sees every frame: it adapts its own noise model from them
        vad = self._vad.is_speech(frame, self.sample_rate)
        loud = energy > floor * self._gate
        index = self._index
        self._index = index + 1
        if self._in_speech:
            return self._feed_speech(frame, vad and loud, index)
        return self._feed_idle(frame, vad, loud, index)

    def _feed_idle(self, frame: bytes, vad: bool, loud: bool, index: int) -> list[VadEvent]:
        # Onsets count webrtcvad's own decisions (its hangover bridges the quiet consonants of
        # a word's start); the pitch check then looks only at frames above the noise floor.
        self._recent.append(frame)
        flags = self._flags
        if len(flags) == self._window and flags[0]:
            self._voiced_in_window -= 1
        flags.append(_VAD | _LOUD if vad and loud else _VAD if vad else 0)
        self._periodic.append(None if vad and loud else False)
        if vad:
            self._voiced_in_window += 1
            if self._voiced_in_window >= self._min_frames and self._has_pitch():
                return [self._start(index)]
        return []

    def _has_pitch(self) -> bool:
        """Whether enough loud voiced frames of the onset window are periodic (checked lazily)."""
        periodic, recent = self._periodic, self._recent
        offset = len(recent) - len(periodic)  # recent holds the window's frames at its end
        count = 0
        for i in range(len(periodic)):
            if periodic[i] is None:
                j = offset + i
                periodic[i] = j > 0 and self._pitch.is_periodic(recent[j - 1], recent[j])
            count += periodic[i]
            if count >= MIN_PERIODIC_FRAMES:
                return True
        return False

    def _start(self, index: int) -> SpeechStarted:
        flags = self._flags
        first = flags.index(_VAD | _LOUD) if _VAD | _LOUD in flags else flags.index(_VAD)
        onset = index - (len(flags) - 1 - first)
        keep = min(len(self._recent), index - onset + 1 + self._pre_roll_frames)
        recent = self._recent
        self._utt = [recent[i] for i in range(len(recent) - keep, len(recent))]
        self._in_speech = True
        self._started_ms = onset * FRAME_MS
        self._last_voiced_pos = len(self._utt) - 1
        self._last_voiced_end_ms = (index + 1) * FRAME_MS
        self._silence_run = 0
        self._prev_voiced = 0b11
        return SpeechStarted(at_ms=self._started_ms, detected_at_ms=(index + 1) * FRAME_MS)

    def _feed_speech(self, frame: bytes, voiced: bool, index: int) -> list[VadEvent]:
        utt = self._utt
        utt.append(frame)
        # A lone voiced frame inside a pause is line noise; speech comes in runs, so a frame
        # counts as speech when one of the two frames before it was voiced as well.
        if voiced and self._prev_voiced:
            self._last_voiced_pos = len(utt) - 1
            self._last_voiced_end_ms = (index + 1) * FRAME_MS
            self._silence_run = 0
        else:
            self._silence_run += 1
        self._prev_voiced = ((self._prev_voiced << 1) | voiced) & 0b11
        if self._silence_run >= self._silence_frames:
            return [self._end(index, cut=False)]
        if len(utt) >= self._max_frames:
            return self._cut(index)
        return []

    # -------------------------------------------------------------------------------- turn ends

    def _end(self, index: int, *, cut: bool) -> UtteranceEnded:
        utt = self._utt
        keep = self._last_voiced_pos + 1 + self._tail_frames
        event = UtteranceEnded(
            audio=Audio(pcm=b"".join(utt[:keep]), sample_rate=self.sample_rate),
            started_at_ms=self._started_ms,
            last_speech_ms=self._last_voiced_end_ms,
            ended_at_ms=(index + 1) * FRAME_MS,
            cut=cut,
        )
        self._in_speech = False
        self._utt = []
        self._flags.clear()
        self._periodic.clear()
        self._voiced_in_window = 0
        self._recent.clear()
        self._recent.extend(utt[-self._recent.maxlen:] if self._recent.maxlen else ())
        return event

    def _cut(self, index: int) -> list[VadEvent]:
        """The utterance reached max_utterance_s: deliver it and carry on with a new piece."""
        if self._silence_run:  # in a short pause: end here; speech that follows starts anew
            return [self._end(index, cut=True)]
        logger.debug("utterance cut at %.1f s while speaking", self.max_utterance_s)
        ended = UtteranceEnded(
            audio=Audio(pcm=b"".join(self._utt), sample_rate=self.sample_rate),
            started_at_ms=self._started_ms,
            last_speech_ms=self._last_voiced_end_ms,
            ended_at_ms=(index + 1) * FRAME_MS,
            cut=True,
        )
        self._utt = []
        self._started_ms = (index + 1) * FRAME_MS
        self._last_voiced_pos = -1
        self._last_voiced_end_ms = self._started_ms
        return [ended, SpeechStarted(at_ms=self._started_ms, detected_at_ms=self._started_ms)]


class _PitchDetector:
    """Tells periodic sound (voiced speech) from noise: the peak of the normalised
    autocorrelation of a 40 ms segment over the lags of a 60–400 Hz pitch."""

    def __init__(self, sample_rate: int):
        self._lags = np.arange(sample_rate // 400, sample_rate // 60 + 1)
        size = 2 * frame_bytes(sample_rate) // 2  # samples in two frames
        # long enough that the circular correlation does not wrap for the lags we read
        self._nfft = 1 << (size + int(self._lags[-1]) - 1).bit_length()

    def is_periodic(self, previous: bytes, current: bytes) -> bool:
        x = np.frombuffer(previous + current, dtype="<i2").astype(np.float64)
        x -= x.mean()
        n = x.size
        energy = np.concatenate(([0.0], np.cumsum(x * x)))
        total = energy[n]
        if total <= 0.0:
            return False
        spectrum = np.fft.rfft(x, self._nfft)
        autocorr = np.fft.irfft(spectrum * spectrum.conj(), self._nfft)[self._lags]
        head = energy[n - self._lags]  # energy of x[:n-k]
        tail = total - energy[self._lags]  # energy of x[k:]
        # Lags where one side holds almost no energy (a click at the segment's edge) say nothing.
        valid = np.minimum(head, tail) > 0.25 * total
        rho = autocorr[valid] / np.sqrt(head[valid] * tail[valid])
        return bool(rho.size) and float(rho.max()) >= PERIODIC_RHO
