"""The controller's side of one outbound event-socket connection (gevent).

One reader greenlet owns the socket's read side and routes every frame by Content-Type:
``command/reply`` and ``api/response`` resolve the FIFO of pending commands (FS answers strictly in
order, one reply per command, ``api`` only with ``api/response``), events go to callbacks and a
queue and complete ``execute`` waiters by ``Application-UUID``, disconnect notices end the call.
Every wait is bounded; a malformed frame is logged and closes the connection. Once the channel
data arrived, the reader's log lines carry the call's UUID (``config.log_context.bind_call``).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gevent
import gevent.event
import gevent.lock
import gevent.queue

from config.log_context import bind_call

from .protocol import (
    Api,
    CommandLike,
    Connect,
    ConnectionClosed,
    EslError,
    EslTimeout,
    Event,
    Execute,
    Frame,
    FrameReader,
    ProtocolError,
    event_from_headers,
    new_uuid,
    parse_frame_event,
    url_decode,
)

log = logging.getLogger(__name__)

__all__ = [
    "CommandError", "ConnectionClosed", "EslConnection", "EslError", "EslTimeout", "HangupError",
    "ProtocolError", "Reply",
]

DEFAULT_EXECUTE_TIMEOUT = 3600.0
"""``execute(timeout=None)`` still ends: after this long (like a generous ``park_timeout``)."""


class HangupError(EslError):
    """The channel hung up (or the socket went away) before the awaited thing happened."""


class CommandError(EslError):
    """FS answered a command with ``-ERR ...``."""

    def __init__(self, reply: Reply):
        super().__init__(reply.text)
        self.reply = reply


@dataclass(frozen=True)
class Reply:
    """FS's answer to one command: ``Reply-Text`` (or the ``api/response`` body) and headers."""

    text: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def ok(self) -> bool:
        return self.text.startswith("+OK")


@dataclass
class _Pending:
    kind: str  # "reply", "api" or "connect"
    result: gevent.event.AsyncResult = field(default_factory=gevent.event.AsyncResult)


class EslConnection:
    """One call's control connection. Construct it from the socket the server accepted."""

    def __init__(self, sock: Any, *, execute_timeout: float = DEFAULT_EXECUTE_TIMEOUT,
                 queue_events: int = 0):
        """``queue_events``: also keep up to that many events in ``events`` for a reader that
        pulls them (tools, tests); 0 — the call path only uses ``on_event`` callbacks."""
        self._sock = sock
        self._reader = FrameReader(sock)
        self._pending: deque[_Pending] = deque()
        self._send_lock = gevent.lock.Semaphore()
        self._callbacks: list[Callable[[Event], None]] = []
        self._waiters: dict[str, gevent.event.AsyncResult] = {}
        self.execute_timeout = execute_timeout
        self.uuid: str = ""
        self.channel_data: Event | None = None
        self.events: gevent.queue.Queue | None = (
            gevent.queue.Queue(maxsize=queue_events) if queue_events else None)
        self.hangup_event: Event | None = None
        """CHANNEL_HANGUP, once it arrived."""
        self.disconnected = gevent.event.Event()
        """Any disconnect notice or EOF."""
        self.hangup_notice = gevent.event.Event()
        """The ``linger`` disconnect notice: the channel is down, the socket stays open."""
        self.closed = gevent.event.Event()
        """The connection is over (disconnect notice, EOF, error, or :meth:`close`)."""
        self.close_reason = ""
        self.broken = False  # closed because FreeSWITCH's side sent something unreadable
        self._reader_greenlet = gevent.spawn(self._read_loop)

    # ------------------------------------------------------------------ public API

    @property
    def channel_gone(self) -> bool:
        """True once the channel hung up or the connection ended."""
        return (self.hangup_event is not None or self.hangup_notice.is_set()
                or self.closed.is_set())

    def connect(self, timeout: float = 5.0) -> Event:
        """Send ``connect``; return the CHANNEL_DATA reply with every value URL-decoded."""
        reply = self._request(Connect().to_wire(), "connect", timeout)
        event = event_from_headers(reply.headers)
        self.channel_data = event
        self.uuid = event.get("Unique-ID") or event.get("variable_uuid") or ""
        return event

    def send(self, cmd: CommandLike | bytes, timeout: float = 5.0) -> Reply:
        """Send one command and wait (bounded) for its reply."""
        wire = cmd if isinstance(cmd, bytes) else cmd.to_wire()
        kind = "api" if isinstance(cmd, Api) or wire.startswith(b"api ") else "reply"
        return self._request(wire, kind, timeout)

    def api(self, command: str, timeout: float = 5.0) -> str:
        """Run an API command; returns its output (``+OK ...`` / ``-ERR ...``)."""
        return self.send(Api(command), timeout=timeout).text

    def on_event(self, callback: Callable[[Event], None]) -> None:
        """Call ``callback(event)`` in the reader greenlet for every event. Must not block."""
        self._callbacks.append(callback)

    def execute(self, app: str, arg: str = "", timeout: float | None = None) -> Event:
        """Run a dialplan app and wait for its CHANNEL_EXECUTE_COMPLETE (matched on
        ``Application-UUID``). Raises ``HangupError`` if the channel goes first."""
        _, result = self.execute_async(app, arg)
        limit = self.execute_timeout if timeout is None else timeout
        try:
            return result.get(timeout=limit)
        except gevent.Timeout:
            raise EslTimeout(f"{app} did not complete within {limit} s") from None

    def execute_async(self, app: str, arg: str = "",
                      timeout: float = 5.0) -> tuple[str, gevent.event.AsyncResult]:
        """Queue a dialplan app; returns ``(event_uuid, result)`` once FS accepted it. ``result``
        gets the COMPLETE event, or ``HangupError`` if the channel goes first."""
        if self.channel_gone:
            raise HangupError(f"call {self.uuid}: channel is gone, cannot run {app}")
        cmd = Execute(app, arg, event_uuid=new_uuid())
        result = gevent.event.AsyncResult()
        self._waiters[cmd.event_uuid] = result  # before sending: COMPLETE may beat the reply
        try:
            reply = self.send(cmd, timeout=timeout)
        except BaseException:
            self._waiters.pop(cmd.event_uuid, None)
            raise
        if not reply.ok:
            self._waiters.pop(cmd.event_uuid, None)
            raise CommandError(reply)
        return cmd.event_uuid, result

    def wait_closed(self, timeout: float) -> bool:
        """Wait until the connection is over; True if it is."""
        return self.closed.wait(timeout)

    def close(self) -> None:
        """Close the socket (idempotent). FS then ends its listener and, unless the call was
        transferred or hung up, goes on with the dialplan."""
        self._shutdown("closed by controller")
        if gevent.getcurrent() is not self._reader_greenlet:
            self._reader_greenlet.join(timeout=1.0)

    # ------------------------------------------------------------------ sending

    def _request(self, wire: bytes, kind: str, timeout: float) -> Reply:
        if self.closed.is_set():
            raise ConnectionClosed(f"call {self.uuid}: connection is closed ({self.close_reason})")
        pending = _Pending(kind)
        with self._send_lock:
            self._pending.append(pending)
            try:
                self._sock.sendall(wire)
            except OSError as exc:
                self._pending.remove(pending)
                self._shutdown(f"send failed: {exc}")
                raise ConnectionClosed(f"call {self.uuid}: send failed: {exc}") from None
        try:
            return pending.result.get(timeout=timeout)
        except gevent.Timeout:
            # The entry stays in the FIFO so a late reply still lines up with its command.
            first_line = wire.split(b"\n", 1)[0]
            raise EslTimeout(f"call {self.uuid}: no reply to {first_line!r} "
                             f"within {timeout} s") from None

    # ------------------------------------------------------------------ reading

    def _read_loop(self) -> None:
        try:
            while not self.closed.is_set():
                frame = self._reader.read_frame()
                self._route(frame)
        except ConnectionClosed as exc:
            if exc.truncated:
                log.error("connection closed mid-frame")
                self.broken = True
            self._shutdown(str(exc))
        except ProtocolError as exc:
            log.error("malformed ESL frame, closing: %s", exc)
            self.broken = True
            self._shutdown(f"protocol error: {exc}")
        except Exception:
            log.exception("ESL reader failed")
            self.broken = True
            self._shutdown("reader failed")

    def _route(self, frame: Frame) -> None:
        ctype = frame.content_type
        if ctype == "command/reply":
            self._resolve_reply(frame)
        elif ctype == "api/response":
            self._resolve_api(frame)
        elif ctype.startswith("text/event-"):
            self._dispatch(parse_frame_event(frame))
        elif ctype == "text/disconnect-notice":
            self._on_disconnect_notice(frame)
        elif ctype == "text/rude-rejection":
            self._shutdown("rude rejection: " + frame.body.decode("utf-8", "replace").strip())
        else:
            log.debug("ignoring frame of type %s", ctype)

    def _pop_pending(self, ctype: str) -> _Pending:
        if not self._pending:
            raise ProtocolError(f"unsolicited {ctype}")
        return self._pending.popleft()

    def _resolve_reply(self, frame: Frame) -> None:
        pending = self._pop_pending("command/reply")
        raw_text = frame.headers.get("Reply-Text", "")
        if pending.kind == "connect":
            text = url_decode(raw_text).rstrip("\n")
            # this reader greenlet logs for the call from now on (config.log_context)
            bind_call(frame.headers.get("Unique-ID") or frame.headers.get("variable_uuid") or "")
        else:
            text = raw_text  # an api on a socket without 'full' gets -ERR command not found
        pending.result.set(Reply(text=text, headers=frame.headers, body=frame.body))

    def _resolve_api(self, frame: Frame) -> None:
        pending = self._pop_pending("api/response")
        if pending.kind != "api":
            raise ProtocolError("api/response for a command that was not an api")
        text = frame.body.decode("utf-8", errors="replace")
        pending.result.set(Reply(text=text, headers=frame.headers, body=frame.body))

    def _dispatch(self, event: Event) -> None:
        if event.name == "CHANNEL_HANGUP" and self.hangup_event is None:
            self.hangup_event = event
            self._fail_waiters(f"channel hung up ({event.get('Hangup-Cause', '')})")
        elif event.name == "CHANNEL_EXECUTE_COMPLETE":
            waiter = self._waiters.pop(event.get("Application-UUID") or "", None)
            if waiter is not None:
                waiter.set(event)
        for callback in list(self._callbacks):
            try:
                callback(event)
            except Exception:
                log.exception("event callback failed on %s", event.name)
        if self.events is None:
            return
        try:
            self.events.put_nowait(event)
        except gevent.queue.Full:
            log.warning("event queue full, dropping %s", event.name)

    def _on_disconnect_notice(self, frame: Frame) -> None:
        self.disconnected.set()
        if frame.headers.get("Content-Disposition") == "linger":
            log.debug("channel down, socket lingering")
            self.hangup_notice.set()
            self._fail_waiters("channel hung up (linger notice)")
        else:
            self._shutdown("disconnect notice")

    # ------------------------------------------------------------------ teardown

    def _fail_waiters(self, why: str) -> None:
        waiters, self._waiters = self._waiters, {}
        for waiter in waiters.values():
            waiter.set_exception(HangupError(f"call {self.uuid}: {why}"))

    def _shutdown(self, reason: str) -> None:
        if self.closed.is_set():
            return
        self.close_reason = reason
        log.debug("ESL connection closing: %s", reason)
        self.disconnected.set()
        self.closed.set()
        self._fail_waiters(f"connection closed ({reason})")
        pending, self._pending = list(self._pending), deque()
        for item in pending:
            item.result.set_exception(ConnectionClosed(f"call {self.uuid}: {reason}"))
        try:
            self._sock.shutdown(2)
        except OSError:
            pass
        self._sock.close()
