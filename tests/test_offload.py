"""Engines run off the hub: an engine's own failure becomes an EngineError for the fallback, but
what is thrown into the waiting call (the caller hung up, the node is stopping) stays itself, so
the chat records why the call really ended."""

from __future__ import annotations

import time

import gevent
import pytest
from gevent.pool import Pool
from gevent.threadpool import ThreadPool

from esl_controller.offload import run_offloaded
from media.engines import EngineError


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
