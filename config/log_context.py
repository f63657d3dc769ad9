"""The call's UUID on every log line written on its behalf — session, agents, engines alike.

A call binds its UUID once (:func:`bind_call`); :class:`CallUuidFilter` puts it on each record
as ``call_uuid`` ("-" outside a call), and :data:`LOG_FORMAT` prints it in one place, so no
module writes ``[uuid]`` into its messages. The UUID lives in a context variable. A new greenlet
or worker thread starts with an empty context, so work done for a call elsewhere (an engine in a
pool, a watcher greenlet) is started through :func:`in_this_context`, which carries it along.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

NO_CALL = "-"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(call_uuid)s] %(message)s"

_call_uuid: contextvars.ContextVar[str] = contextvars.ContextVar("call_uuid", default=NO_CALL)


def bind_call(uuid: str) -> None:
    """From now on, log lines of this greenlet (and of work it hands on) carry ``uuid``."""
    _call_uuid.set(uuid or NO_CALL)


def current_call() -> str:
    """The UUID of the call this code runs for, or ``"-"``."""
    return _call_uuid.get()


def in_this_context(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` bound to the current call: pass this to ``gevent.spawn`` or a pool and the call's
    UUID travels with the work.

    It sets the one variable where ``fn`` runs rather than entering a copied context
    (``Context.run``): under load, engine jobs entered that way in gevent's worker threads
    hung for good (20 real calls on faster-whisper, tests/test_real_freeswitch_calls.py)."""
    uuid = _call_uuid.get()

    def run(*args: Any, **kwargs: Any) -> T:
        token = _call_uuid.set(uuid)
        try:
            return fn(*args, **kwargs)
        finally:
            _call_uuid.reset(token)

    return run


class CallUuidFilter(logging.Filter):
    """Adds ``record.call_uuid``. Attach it to the handlers, so every logger's records get it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "call_uuid"):
            record.call_uuid = _call_uuid.get()
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """The process's log output: one stderr handler with the call UUID on each line."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(CallUuidFilter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
