"""Run blocking engines off the gevent hub, with the per-call timeouts the settings give.

Where an engine runs depends on what it waits for:

- **CPU work in native code** (faster-whisper's CTranslate2, Piper's ONNX runtime, Whisper's
  torch) releases the GIL, so it runs in a thread pool while the hub keeps serving every other
  call.
- **Waiting on another process or a server** (espeak-ng and the Coqui worker: a subprocess;
  Ollama: HTTP) needs no thread at all when gevent has patched the module the engine waits
  through — in ``voicegate run`` it has (``monkey.patch_all``). Those waits then yield to the
  hub, and they *must* happen on the hub: a gevent worker thread has a loop of its own, and
  gevent's subprocess needs the default loop's child watcher ("child watchers are only
  available on the default loop"), while a patched socket belongs to the loop it was created on
  (an HTTP connection opened in one worker thread and read in another fails with "Cannot
  switch to a different thread"). So such engines run as greenlets on the hub.
- The same engine in an unpatched process (the in-process tests, benchmarks) waits by
  blocking; there it goes to the thread pool like CPU work, where the standard library's
  blocking subprocess and sockets are fine.

An engine says what it waits through with a class attribute ``waits_on`` — the name of the
standard-library module (``"subprocess"``, ``"socket"``); engines without it are CPU work. The
wrappers implement the same engine interfaces, so ``agents`` never learns about threads or
greenlets. The node builds the pools and wrappers and kills the pools when it stops
(``voicegate/node.py``); this module starts nothing by itself.

Python locks that a library makes after ``monkey.patch_all`` are gevent locks, and native worker
threads contending for one hang for good. faster-whisper builds a (disabled) tqdm progress bar
per transcription, and tqdm keeps one class-wide lock: 20 calls at once hung speech recognition
(tests/test_real_freeswitch_calls.py). Before engines get worker threads, such libraries get
native locks (:func:`native_locks_for_worker_threads`).

A worker thread or a new greenlet starts with an empty context: every call here runs with the
caller's call UUID set (``config.log_context.in_this_context``), so an engine's log lines carry
it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import gevent
from gevent import monkey
from gevent.pool import Pool
from gevent.threadpool import ThreadPool

from config.log_context import in_this_context
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

log = logging.getLogger(__name__)

T = TypeVar("T")
E = TypeVar("E")
_END = object()


EnginePool = ThreadPool | Pool


def runs_on_hub(engine: object) -> bool:
    """Whether ``engine``'s waits are cooperative here, so it runs as a greenlet on the hub."""
    waits_on = getattr(engine, "waits_on", "")
    return bool(waits_on) and monkey.is_module_patched(waits_on)


def engine_pool(engine: object, size: int) -> EnginePool:
    """Where ``engine``'s calls run (module docstring): ``size`` greenlets on the hub or
    ``size`` worker threads. Both bound how many calls use the engine at once."""
    if runs_on_hub(engine):
        return Pool(size)
    native_locks_for_worker_threads()
    return ThreadPool(size)


def native_locks_for_worker_threads() -> None:
    """Give the libraries engines use in worker threads native locks in a patched process
    (module docstring); without patching their locks are native already."""
    if not monkey.is_module_patched("threading"):
        return
    try:
        from tqdm import tqdm
    except ImportError:
        return
    tqdm.set_lock(monkey.get_original("_thread", "RLock")())
    tqdm.monitor_interval = 0  # its monitor "thread" would be a greenlet no hub ever runs


class EngineWorkers:
    """The pools the node's engines run in, one per engine: built by :meth:`offload`, ended
    by :meth:`close` with the engines themselves (the Coqui worker process, Ollama's
    connections) when the node stops."""

    def __init__(self, size: int):
        self.size = size  # per engine: a slow LLM never starves speech recognition
        self._pools: list[EnginePool] = []
        self._engines: list[object] = []

    def offload(self, engine: object | None, wrapper: Callable[[Any, EnginePool, float], E],
                timeout_s: float) -> E | None:
        """``wrapper(engine, its own pool, timeout_s)``; None for a missing engine."""
        if engine is None:
            return None
        pool = engine_pool(engine, self.size)
        self._pools.append(pool)
        self._engines.append(engine)
        return wrapper(engine, pool, timeout_s)

    def close(self) -> None:
        for pool in self._pools:
            pool.kill()
        self._pools.clear()
        for engine in self._engines:
            close = getattr(engine, "close", None)
            if callable(close):
                try:
                    close()
                except Exception as exc:  # a stopping node closes the rest regardless
                    log.warning("closing %s: %s", engine, exc)
        self._engines.clear()


def call_off_hub(engine: object, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """One blocking call of ``engine`` without stalling the hub and without a timeout: in the
    calling greenlet when its waits are cooperative, else in the hub's thread pool."""
    if runs_on_hub(engine):
        return fn(*args, **kwargs)
    native_locks_for_worker_threads()
    return gevent.get_hub().threadpool.apply(in_this_context(fn), args, kwargs)


def run_offloaded(pool: EnginePool, engine: str, timeout_s: float, fn: Callable[..., T],
                  *args: Any, **kwargs: Any) -> T:
    """``fn(*args)`` in the pool, with the caller's call UUID; EngineTimeout after
    ``timeout_s`` (queueing for a busy pool included: a caller waits either way), EngineError
    on a crash.

    A call that times out is abandoned, not killed, in either kind of pool: the engine's own
    timeout (espeak's, the Coqui worker's, the HTTP read timeout) ends and cleans it up."""
    deadline = gevent.Timeout(timeout_s)  # counts the wait for a free worker too
    try:
        with deadline:
            ok, value = pool.spawn(in_this_context(_outcome), fn, args, kwargs).get()
    except gevent.Timeout as exc:
        if exc is not deadline:
            raise
        raise EngineTimeout(engine, f"no answer within {timeout_s:.1f} s") from exc
    if ok:
        return value
    if isinstance(value, EngineError):
        raise value
    raise EngineError(engine, f"{type(value).__name__}: {value}") from value


def _outcome(fn: Callable[..., T], args: tuple, kwargs: dict) -> tuple[bool, Any]:
    """``(True, result)`` or ``(False, exception)``: an engine's failure is the caller's to
    report, not a crashed greenlet or thread for gevent to print with its traceback."""
    try:
        return True, fn(*args, **kwargs)
    except Exception as exc:
        return False, exc


class OffloadedSTT:
    def __init__(self, inner: SpeechToText, pool: EnginePool, timeout_s: float):
        self.inner, self.pool, self.timeout_s = inner, pool, timeout_s
        self.name = inner.name

    def transcribe(self, audio: Audio, *, language: str = "de") -> Transcript:
        transcript = run_offloaded(self.pool, self.name, self.timeout_s,
                                   self.inner.transcribe, audio, language=language)
        if not isinstance(transcript, Transcript) or not isinstance(transcript.text, str):
            raise EngineError(self.name, f"returned {transcript!r} instead of a transcript")
        return transcript


class OffloadedTTS:
    def __init__(self, inner: TextToSpeech, pool: EnginePool, timeout_s: float):
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

    def __init__(self, inner: LanguageModel, pool: EnginePool, timeout_s: float):
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
