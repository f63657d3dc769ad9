"""Engines run off the hub: an engine's own failure becomes an EngineError for the fallback, but
what is thrown into the waiting call (the caller hung up, the node is stopping) stays itself, so
the chat records why the call really ended; what an engine logs carries the call's UUID."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest
from gevent.pool import Pool
from gevent.threadpool import ThreadPool

from config.log_context import CallUuidFilter, bind_call
from esl_controller.offload import OffloadedLLM, OffloadedSTT, run_offloaded
from media.engines import Audio, ChatMessage, EngineError, LlmChunk, Transcript


class CallEnded(Exception):
    pass


def _crash() -> None:
    raise RuntimeError("model exploded")


@pytest.fixture(params=["threads", "hub"])
def pool(request):
    made = ThreadPool(2) if request.param == "threads" else Pool(2)
    yield made
    made.kill()


def test_an_engine_crash_is_an_engine_error(pool):
    with pytest.raises(EngineError, match="RuntimeError: model exploded"):
        run_offloaded(pool, "stt", 5.0, _crash)


def test_a_call_ended_while_the_engine_works_is_not_blamed_on_the_engine(pool):
    def wait_for_engine() -> None:
        run_offloaded(pool, "tts", 5.0, time.sleep if isinstance(pool, ThreadPool)
                      else gevent.sleep, 1.0)

    waiter = gevent.spawn(wait_for_engine)
    gevent.sleep(0.05)
    waiter.kill(CallEnded("caller hung up"), block=True, timeout=2)
    assert isinstance(waiter.exception, CallEnded)


class LoggingEngines:
    """An STT and an LLM that log from inside the pool, as real engines do."""

    name = "logging-engine"
    log = logging.getLogger("media.stt.logging_engine")

    def transcribe(self, audio: Audio, *, language: str = "de") -> Transcript:
        self.log.info("transcribing %d bytes", len(audio.pcm))
        return Transcript(text="Hallo", language=language)

    def chat(self, messages, *, tools=(), response_format=None) -> Iterator[LlmChunk]:
        for word in ("Guten", "Tag"):
            self.log.info("streaming %s", word)
            yield LlmChunk(text=word)
        yield LlmChunk(done=True)


@pytest.fixture
def call_lines() -> Iterator[list[tuple[str, str]]]:
    """(call UUID, message) of each line the engine logged, as the node's handler sees it."""
    lines: list[tuple[str, str]] = []
    handler = logging.Handler()
    handler.addFilter(CallUuidFilter())
    handler.emit = lambda r: lines.append((r.call_uuid, r.getMessage()))  # type: ignore[method-assign]
    logger = LoggingEngines.log
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)


def test_what_an_engine_logs_during_a_call_carries_that_calls_uuid(pool, call_lines):
    engine = LoggingEngines()
    stt, llm = OffloadedSTT(engine, pool, 5.0), OffloadedLLM(engine, pool, 5.0)

    def call(uuid: str) -> None:
        bind_call(uuid)
        stt.transcribe(Audio(pcm=b"\x00\x00" * 160, sample_rate=8000))
        list(llm.chat([ChatMessage("user", "Hallo")]))

    gevent.joinall([gevent.spawn(call, "call-a"), gevent.spawn(call, "call-b")],
                   raise_error=True)
    for uuid in ("call-a", "call-b"):
        assert [m for u, m in call_lines if u == uuid] == [
            "transcribing 320 bytes", "streaming Guten", "streaming Tag"]
    assert len(call_lines) == 6


_PATCHED_NODE_STT = """
from gevent import monkey
monkey.patch_all()  # as `voicegate run` does
import gevent
from tqdm import tqdm
from esl_controller.offload import engine_pool, run_offloaded

class TqdmEngine:  # CPU work whose library builds a progress bar per job, as faster-whisper does
    def transcribe(self):
        for _ in range(300):
            with tqdm(total=1, disable=True):
                pass
        return "ok"

engine = TqdmEngine()
pool = engine_pool(engine, 4)
jobs = [gevent.spawn(run_offloaded, pool, "stt", 20.0, engine.transcribe) for _ in range(16)]
gevent.joinall(jobs)
print(sum(job.value == "ok" for job in jobs), [str(job.exception) for job in jobs if job.exception])
"""


def test_concurrent_engine_jobs_in_the_patched_node_do_not_hang_on_library_locks():
    """20 real calls once hung faster-whisper: its per-job tqdm bar shares a class-wide lock,
    a gevent lock after patching, between native worker threads. All 16 jobs must finish."""
    done = subprocess.run([sys.executable, "-c", _PATCHED_NODE_STT], capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "16 []", done.stdout + done.stderr


_FORK_WHILE_ENGINES_COMPUTE = """
from voicegate.cli import patch_process
patch_process()  # exactly as `voicegate run` prepares the process
import subprocess, time
import numpy as np
from gevent.threadpool import ThreadPool

# faster-whisper's feature extraction: a mel filter bank times a spectrogram, per utterance
mel, spectrum = np.ones((80, 201), "float32"), np.ones((201, 3000), "float32")

def recognise(times):
    for _ in range(times):
        mel @ spectrum
    return True

pool = ThreadPool(4)
jobs = [pool.spawn(recognise, 300) for _ in range(8)]
started = time.monotonic()
while not all(job.ready() for job in jobs) and time.monotonic() - started < 30:
    subprocess.run(["true"], timeout=5)  # the hub forks one espeak-ng per sentence meanwhile
print(all(job.ready() and job.value for job in jobs))
"""


def test_the_node_forks_processes_while_engine_threads_compute_without_hanging():
    """The node forks espeak-ng while faster-whisper runs numpy's BLAS in worker threads;
    OpenBLAS's fork handler once hung the fork and every recognition for good."""
    try:
        done = subprocess.run([sys.executable, "-c", _FORK_WHILE_ENGINES_COMPUTE],
                              capture_output=True, text=True, timeout=60,
                              cwd=Path(__file__).resolve().parents[1])
    except subprocess.TimeoutExpired:
        pytest.fail("forking while engine threads compute hung the process")
    assert done.stdout.strip() == "True", done.stdout + done.stderr
