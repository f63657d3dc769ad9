"""Run blocking engines off the gevent hub, with the per-call timeouts the settings give.

Model inference blocks (and mostly releases the GIL), so it runs in the hub's thread pool while
the hub keeps pacing audio for every other call. The wrappers implement the same engine
interfaces, so `agents` never learns about threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import gevent
from gevent.threadpool import ThreadPool

from media.engines import (
    Audio,
    ChatMessage,
    EngineError,
    EngineTimeout,
    LanguageModel,
    LlmChunk,
    SpeechToText,
    TextToSpeech,
    ToolSpec,
    Transcript,
)

T = TypeVar("T")
_END = object()


def run_offloaded(pool: ThreadPool, engine: str, timeout_s: float, fn: Callable[..., T],
                  *args: Any, **kwargs: Any) -> T:
    """``fn(*args)`` in the pool; EngineTimeout after ``timeout_s``, EngineError on a crash."""
    result = pool.spawn(fn, *args, **kwargs)
    try:
        return result.get(timeout=timeout_s)
    except gevent.Timeout as exc:
        raise EngineTimeout(engine, f"no answer within {timeout_s:.1f} s") from exc
    except EngineError:
        raise
    except Exception as exc:
        raise EngineError(engine, f"{type(exc).__name__}: {exc}") from exc


class OffloadedSTT:
    def __init__(self, inner: SpeechToText, pool: ThreadPool, timeout_s: float):
        self.inner, self.pool, self.timeout_s = inner, pool, timeout_s
        self.name = inner.name

    def transcribe(self, audio: Audio, *, language: str = "de") -> Transcript:
        transcript = run_offloaded(self.pool, self.name, self.timeout_s,
                                   self.inner.transcribe, audio, language=language)
        if not isinstance(transcript, Transcript) or not isinstance(transcript.text, str):
            raise EngineError(self.name, f"returned {transcript!r} instead of a transcript")
        return transcript


class OffloadedTTS:
    def __init__(self, inner: TextToSpeech, pool: ThreadPool, timeout_s: float):
        self.inner, self.pool, self.timeout_s = inner, pool, timeout_s
        self.name = inner.name

    def synthesize(self, text: str, *, language: str = "de", voice: str = "") -> Audio:
        audio = run_offloaded(self.pool, self.name, self.timeout_s,
                              self.inner.synthesize, text, language=language, voice=voice)
        if not isinstance(audio, Audio) or audio.sample_rate <= 0 or len(audio.pcm) % 2:
            raise EngineError(self.name, "returned no usable audio")
        return audio


class OffloadedLLM:
    """Streams chunks from a worker thread; ``timeout_s`` bounds the wait for each chunk."""

    def __init__(self, inner: LanguageModel, pool: ThreadPool, timeout_s: float):
        self.inner, self.pool, self.timeout_s = inner, pool, timeout_s
        self.name = inner.name

    def chat(self, messages: Sequence[ChatMessage], *, tools: Sequence[ToolSpec] = (),
             response_format: dict[str, Any] | None = None) -> Iterator[LlmChunk]:
        stream = run_offloaded(self.pool, self.name, self.timeout_s, self.inner.chat,
                               list(messages), tools=list(tools), response_format=response_format)
        return self._pull(iter(stream))

    def _pull(self, stream: Iterator[LlmChunk]) -> Iterator[LlmChunk]:
        while True:
            chunk = run_offloaded(self.pool, self.name, self.timeout_s, next, stream, _END)
            if chunk is _END:
                return
            if not isinstance(chunk, LlmChunk):
                raise EngineError(self.name, f"streamed {chunk!r} instead of a chunk")
            yield chunk
            if chunk.done:
                return
