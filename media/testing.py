"""Deterministic engines for tests and benchmarks: they know exactly what was heard and said.

They are selectable only explicitly (backend names ``scripted`` / ``tone``), never a default.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .engines import (
    Audio,
    ChatMessage,
    EngineError,
    LlmChunk,
    ToolCall,
    ToolSpec,
    Transcript,
)


class ScriptedSTT:
    """Returns the next scripted text for each utterance, in order.

    A script entry may be an exception instance: it is raised instead (engine fault tests).
    ``delay_s`` simulates model compute; ``default`` is heard once the script is used up.
    """

    name = "scripted-stt"

    def __init__(self, texts: Iterable[str | Exception] = (), *, delay_s: float = 0.0,
                 default: str = ""):
        self._texts = list(texts)
        self.default = default
        self._lock = threading.Lock()
        self.delay_s = delay_s
        self.heard: list[Audio] = []

    def transcribe(self, audio: Audio, *, language: str = "de") -> Transcript:
        with self._lock:
            self.heard.append(audio)
            item = self._texts.pop(0) if self._texts else self.default
        if self.delay_s:
            time.sleep(self.delay_s)
        if isinstance(item, Exception):
            raise item
        return Transcript(text=item, language=language)


class ScriptedLLM:
    """Answers each ``chat`` call with the next scripted reply.

    A reply is a string (streamed word by word), a ``ToolCall`` / list of them, a dict
    (returned as JSON text, for structured output), or an exception instance (raised).
    When the script is used up it answers ``default``.
    """

    name = "scripted-llm"

    def __init__(self, replies: Iterable[Any] = (), *, default: str = "Alles klar.",
                 first_token_delay_s: float = 0.0):
        self._replies = list(replies)
        self._lock = threading.Lock()
        self.default = default
        self.first_token_delay_s = first_token_delay_s
        self.requests: list[tuple[list[ChatMessage], list[ToolSpec]]] = []

    def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] = (),
        response_format: dict[str, Any] | None = None,
    ) -> Iterator[LlmChunk]:
        with self._lock:
            self.requests.append((list(messages), list(tools)))
            reply = self._replies.pop(0) if self._replies else self.default
        return self._stream(reply)

    def _stream(self, reply: Any) -> Iterator[LlmChunk]:
        if self.first_token_delay_s:
            time.sleep(self.first_token_delay_s)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, ToolCall):
            reply = [reply]
        if isinstance(reply, list):
            yield LlmChunk(tool_calls=tuple(reply), done=True)
            return
        if isinstance(reply, dict):
            reply = json.dumps(reply, ensure_ascii=False)
        if not isinstance(reply, str):
            raise EngineError(self.name, f"unsupported scripted reply {reply!r}")
        words = reply.split(" ")
        for i, word in enumerate(words):
            yield LlmChunk(text=word if i == 0 else " " + word)
        yield LlmChunk(done=True)


class ToneTTS:
    """Speaks every sentence as a tone, ``ms_per_char`` long — instant and deterministic."""

    name = "tone-tts"

    def __init__(self, *, sample_rate: int = 8000, ms_per_char: float = 10.0,
                 min_ms: float = 200.0, frequency_hz: float = 440.0, amplitude: int = 6000):
        self.sample_rate = sample_rate
        self.ms_per_char = ms_per_char
        self.min_ms = min_ms
        self.frequency_hz = frequency_hz
        self.amplitude = amplitude
        self.spoken: list[str] = []

    def synthesize(self, text: str, *, language: str = "de", voice: str = "") -> Audio:
        self.spoken.append(text)
        duration_ms = max(self.min_ms, len(text) * self.ms_per_char)
        n = int(self.sample_rate * duration_ms / 1000)
        step = 2 * math.pi * self.frequency_hz / self.sample_rate
        import numpy as np

        samples = (self.amplitude * np.sin(step * np.arange(n))).astype("<i2")
        return Audio(pcm=samples.tobytes(), sample_rate=self.sample_rate)
