"""The three engine interfaces the call path uses: speech-to-text, language model, text-to-speech.

A backend is picked by configuration (`media.registry`). Engines are plain blocking objects; the
call path runs them off the gevent hub and enforces the per-call timeouts itself, so a backend
needs no threading or timeout code of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable


@dataclass(frozen=True)
class Audio:
    """Mono signed 16-bit little-endian PCM."""

    pcm: bytes
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate


class EngineError(Exception):
    """An engine failed (raised, returned garbage). The call path apologises and falls back."""

    def __init__(self, engine: str, message: str):
        super().__init__(f"{engine}: {message}")
        self.engine = engine


class EngineTimeout(EngineError):
    """An engine took longer than its configured per-call timeout."""


class EngineUnavailable(EngineError):
    """The configured backend cannot run here (model missing, package not installed)."""


# ---------------------------------------------------------------------------- speech-to-text

@dataclass(frozen=True)
class Transcript:
    text: str
    language: str = "de"
    confidence: float | None = None


@runtime_checkable
class SpeechToText(Protocol):
    name: str

    def transcribe(self, audio: Audio, *, language: str = "de") -> Transcript:
        """Transcribe one caller utterance."""
        ...


# ---------------------------------------------------------------------------- language model

@dataclass(frozen=True)
class ToolSpec:
    """A function the LLM may call; ``parameters`` is a JSON schema object."""

    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_name: str | None = None  # for role == "tool": which tool answered


@dataclass(frozen=True)
class LlmChunk:
    """One streamed piece of an answer: a text delta and/or tool calls. ``done`` on the last."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    done: bool = False


@runtime_checkable
class LanguageModel(Protocol):
    name: str

    def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] = (),
        response_format: dict[str, Any] | None = None,
    ) -> Iterator[LlmChunk]:
        """Stream an answer. ``response_format`` is a JSON schema the answer must follow."""
        ...


# ---------------------------------------------------------------------------- text-to-speech

@runtime_checkable
class TextToSpeech(Protocol):
    name: str

    def synthesize(self, text: str, *, language: str = "de", voice: str = "") -> Audio:
        """Speak one sentence. The call path resamples to the channel rate."""
        ...
