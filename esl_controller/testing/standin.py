"""A FreeSWITCH stand-in: one inbound call handed to the controller by ``socket ... async full``.

It dials the controller like ``socket_function`` and then behaves like ``listener_run`` /
``parse_command`` (mod_event_socket.c) on the socket and like ``switch_ivr_park`` /
``switch_core_session_exec`` on the channel (ESL.md), as measured on the real FreeSWITCH 1.11
(../shared/freeswitch; ``tests/test_standin_vs_real.py`` runs the same scenarios against both).
Where it differs from FreeSWITCH, that is a bug in it. The apps it runs live in :mod:`.apps`.

At hangup it sends what the real one sends: CHANNEL_HANGUP; the running app's
EXECUTE_COMPLETE; CHANNEL_UNPARK and the ``socket`` app's EXECUTE_COMPLETE; CHANNEL_STATE
(CS_HANGUP, CS_REPORTING); CHANNEL_HANGUP_COMPLETE; then, with ``linger``, the linger notice
(and the disconnect notice ``Linger-Time`` seconds later), without it the disconnect notice and
the close. A hangup the listener causes itself (``api uuid_kill``) is noticed at once: the
notice follows CHANNEL_HANGUP, and without linger the rest is flushed. Events go out like
``read_packet`` writes them: the length/type block and the body in two writes.

``run()`` blocks the calling greenlet and returns a :class:`CallRecord`; many stand-ins can run
at once in one process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import gevent
import gevent.event
import gevent.lock
import gevent.queue
from gevent import socket

from ..protocol import (
    Command,
    ConnectionClosed,
    EslTimeout,
    FrameReader,
    ProtocolError,
    api_response,
    command_reply,
    connect_reply,
    disconnect_notice,
    event_frame,
    new_uuid,
)
from .apps import AppRunner
from .channel import Q850, Channel, Headers
from .events import Subscription
from .script import Step
from .unicast import CallerMedia

log = logging.getLogger(__name__)

SOCKET_DATA = "{host}:{port} async full"
DIALPLAN_VARIABLES = {  # what the dialplan in ESL.md §7 sets before the socket app
    "continue_on_fail": "true",
    "hangup_after_bridge": "true",
    "park_timeout": "3600:ALLOTTED_TIMEOUT",
}


@dataclass
class CallRecord:
    """Everything the stand-in saw and did during one call."""

    uuid: str
    rate: int = 8000
    connected: bool = False
    commands: list[Command] = field(default_factory=list)
    executed: list[tuple[str, str]] = field(default_factory=list)
    answered: bool = False
    unicast: dict[str, str] | None = None
    agent_audio: bytes = b""
    agent_packets: list[tuple[float, int]] = field(default_factory=list)
    caller_speech_ends: list[float] = field(default_factory=list)
    hangup_by: str | None = None  # "caller", "controller", "far_end" (after transfer/bridge)
    hangup_cause: str | None = None
    transferred_to: str | None = None
    socket_returned: bool = False
    disconnect_sent: bool = False
    errors: list[str] = field(default_factory=list)
    events_sent: list[str] = field(default_factory=list)
    caller_frames_sent: int = 0


class FreeSwitchStandIn:
    """One call. ``run(script)`` places it and plays the caller's script."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8084, *, destination_number: str,
                 caller_number: str = "491701234567", caller_name: str = "",
                 uuid: str | None = None, codec: str = "PCMU", rate: int = 8000,
                 linger_supported: bool = True, first_command_timeout: float = 25.0,
                 connect_timeout: float = 5.0, far_end_talk_s: float = 0.5,
                 variables: dict[str, str] | None = None):
        self.host, self.port = host, port
        self.uuid = uuid or new_uuid()
        self.linger_supported = linger_supported
        self.first_command_timeout = first_command_timeout
        self.connect_timeout = connect_timeout
        self.far_end_talk_s = far_end_talk_s
        self.record = CallRecord(uuid=self.uuid, rate=rate)
        self.channel = Channel(
            uuid=self.uuid, destination_number=destination_number, caller_number=caller_number,
            caller_name=caller_name, codec=codec, rate=rate,
            socket_data=SOCKET_DATA.format(host=host, port=port),
            variables={**DIALPLAN_VARIABLES, **(variables or {})})
        self.subscription = Subscription(self.uuid)
        self.hungup = gevent.event.Event()
        self.transferred = False
        self.lingering = False
        self.linger_time = -1
        self._sock: socket.socket | None = None
        self._write_lock = gevent.lock.Semaphore()
        self._listener_done = gevent.event.Event()
        self._finished = gevent.event.Event()
        self._notice_sent = False
        self._controlled = False
        self._after_reply: list[Callable[[], None]] = []
        self._greenlets: list[gevent.Greenlet] = []
        self._agent_audio = bytearray()
        self.media = CallerMedia(rate, on_agent_packet=self._on_agent_packet)
        self.apps = AppRunner(self)

    # ------------------------------------------------------------------ the call

    def run(self, script: list[Step], *, timeout_s: float = 60) -> CallRecord:
        """Place the call, play ``script``, return when the call is over (or ``timeout_s``)."""
        from .caller import play_script

        try:
            self._sock = socket.create_connection((self.host, self.port),
                                                  timeout=self.connect_timeout)
        except OSError as exc:
            log.info("stand-in %s: controller unreachable (%s); dialplan goes on", self.uuid, exc)
            self.media.stop()
            return self.record
        self._sock.settimeout(None)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.record.connected = True
        self._spawn(self._listen)
        self._spawn(play_script, self, script)
        if not self._finished.wait(timeout_s):
            self.record.errors.append(f"call not finished after {timeout_s} s")
            self.hang_up("NORMAL_CLEARING", None)
        self._teardown()
        return self.record

    def _spawn(self, func, *args) -> gevent.Greenlet:  # type: ignore[no-untyped-def]
        greenlet = gevent.spawn(func, *args)
        self._greenlets.append(greenlet)
        return greenlet

    def _teardown(self) -> None:
        self._close_socket()
        self.media.stop()
        self.apps.stop()
        gevent.killall([g for g in self._greenlets if g is not gevent.getcurrent()], timeout=2)
        self.record.caller_frames_sent = self.media.frames_sent
        self.record.agent_audio = bytes(self._agent_audio)

    def _check_finished(self) -> None:
        if self._listener_done.is_set() and (self.hungup.is_set() or self.record.socket_returned):
            self._finished.set()

    # ------------------------------------------------------------------ channel actions

    def hang_up(self, cause: str, by: str | None, *, noticed_by_listener: bool = False) -> None:
        """``switch_channel_hangup``: CHANNEL_HANGUP now; the rest of the hangup comes once the
        park loop (and the app running in it) has returned."""
        if not self.channel.up:
            return
        self.channel.hang_up(cause)
        self.record.hangup_cause, self.record.hangup_by = cause, by
        self.hungup.set()
        self.media.deactivate()
        self.apps.wake()
        self.fire("CHANNEL_HANGUP", function="switch_channel_perform_hangup")
        if noticed_by_listener:
            self._listener_sees_hangup()
        if not self.apps.in_park:
            self._spawn(self.hangup_state_machine)

    def hangup_state_machine(self) -> None:
        """CS_HANGUP, CS_REPORTING (``switch_core_session_reporting_state``), then the listener
        notices the channel is gone."""
        cause = self.channel.hangup_cause
        self.channel.set_variable("hangup_cause", cause)
        self.channel.set_variable("hangup_cause_q850", Q850.get(cause, "0"))
        self.channel.set_cdr_variables()
        self.enter_state("CS_HANGUP")
        self.enter_state("CS_REPORTING")
        self.fire("CHANNEL_HANGUP_COMPLETE", leading=[("Hangup-Cause", cause)],
                  function="switch_core_session_reporting_state")
        self._listener_sees_hangup()
        self._check_finished()

    def enter_state(self, state: str) -> None:
        self.channel.enter_state(state)
        self.fire("CHANNEL_STATE", function="switch_channel_perform_set_running_state",
                  with_variables=False)

    def _listener_sees_hangup(self) -> None:
        """``listener_run`` finds the channel down: the linger notice (and the disconnect after
        ``Linger-Time``), or without linger the disconnect notice and the close."""
        if self._notice_sent or self._sock is None or self._listener_done.is_set():
            return
        self._notice_sent = True
        if not self.lingering:
            self._end_listener()
            return
        self._write(disconnect_notice(self.uuid, True, self.channel.name, self.linger_time))
        if self.linger_time >= 0:
            self._spawn(self._linger_then_close)

    def _linger_then_close(self) -> None:
        gevent.sleep(self.linger_time)
        self._end_listener()

    def after_reply(self, action: Callable[[], None]) -> None:
        """Run ``action`` in the listener right after the current command's reply is sent."""
        self._after_reply.append(action)

    def transfer(self, target: str) -> None:
        """The call leaves the park loop for another extension; the socket stays open until
        hangup; the far end hangs up after ``far_end_talk_s``."""
        self.transferred = True
        self.record.transferred_to = target
        self.media.deactivate()
        self.apps.interrupt()
        self._spawn(self._far_end_hangup)

    def _far_end_hangup(self) -> None:
        if not self.hungup.wait(self.far_end_talk_s):
            self.hang_up("NORMAL_CLEARING", "far_end")

    def answer(self) -> None:
        if self.channel.answer_state == "answered":
            return
        self.channel.answer()
        self.channel.set_variable("endpoint_disposition", "ANSWER")
        self.record.answered = True
        self.media.media_ready = True
        self.fire("CHANNEL_ANSWER", function="switch_channel_perform_mark_answered")

    # ------------------------------------------------------------------ events out

    def fire(self, name: str, extra: Headers = (), *, function: str = "",
             with_variables: bool = True, body: bytes | None = None,
             leading: Headers = ()) -> None:
        headers = self.channel.event(name, extra, function=function,
                                     with_variables=with_variables, leading=leading)
        self.fire_headers(headers, body)

    def fire_headers(self, headers: Headers, body: bytes | None = None) -> None:
        """Send an event to the controller if its subscription takes it (FS ``event_handler``)."""
        if self._sock is None or self._listener_done.is_set():
            return
        name = headers[0][1]
        if not self.subscription.wants(dict(headers)):
            return
        frame = event_frame(headers, body, fmt=self.subscription.fmt)
        split = frame.index(b"\n\n") + 2
        if self._write(frame[:split], frame[split:]):
            self.record.events_sent.append(name)

    def _write(self, *parts: bytes) -> bool:
        sock = self._sock
        if sock is None:
            return False
        with self._write_lock:
            try:
                for data in parts:
                    sock.sendall(data)
                return True
            except OSError:
                return False

    def _on_agent_packet(self, at: float, data: bytes) -> None:
        self.record.agent_packets.append((at, len(data)))
        self._agent_audio += data

    # ------------------------------------------------------------------ the listener

    def _listen(self) -> None:
        """``listener_run``: first command within the timeout, then commands until EOF/exit."""
        assert self._sock is not None
        reader = FrameReader(self._sock)
        try:
            first = reader.read_command(timeout=self.first_command_timeout)
        except EslTimeout:
            self.record.errors.append(
                f"no command within {self.first_command_timeout} s: FS closes the socket and "
                "the channel stays parked without a controller")
            self._end_listener()
            return
        except (ConnectionClosed, ProtocolError):
            self._end_listener()
            return
        self.record.commands.append(first)
        reply = self._handle(first)
        if first.name != "connect":
            self.record.errors.append(f"first command was {first.line!r}, not connect: "
                                      "FS sends no reply to it")
        elif reply:
            self._write(reply)
        while not self._listener_done.is_set():
            try:
                cmd = reader.read_command()
            except (ConnectionClosed, ProtocolError):
                break
            self.record.commands.append(cmd)
            reply = self._handle(cmd)
            if reply:
                self._write(reply)
            actions, self._after_reply = self._after_reply, []
            for action in actions:
                action()
            if cmd.name in ("exit", "...") or cmd.line.startswith("..."):
                break
        self._end_listener()

    def _end_listener(self) -> None:
        """The end of ``listener_run``: goodbye notice, close, and the socket app returns."""
        if self._listener_done.is_set():
            return
        self._listener_done.set()
        self._controlled = False
        if self._write(disconnect_notice(self.uuid, False)):
            self.record.disconnect_sent = True
        self._close_socket()
        self.apps.listener_gone()
        self._check_finished()

    def socket_app_returned(self) -> None:
        """Called by the park loop when it ended without hangup or transfer."""
        if self.channel.up and not self.transferred:
            self.record.socket_returned = True
            self.media.deactivate()
        self._check_finished()

    def _close_socket(self) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    # ------------------------------------------------------------------ commands

    def _handle(self, cmd: Command) -> bytes | None:
        """``parse_command``: returns the bytes to send back, or None."""
        line = cmd.line.strip()
        low = line.lower()
        if low.startswith("exit") or low.startswith("..."):
            return command_reply("+OK bye")
        if low.startswith("filter "):
            return command_reply(self.subscription.filter(line[7:]))
        if low.startswith("resume"):
            self.channel.variables["socket_resume"] = "true"
            return command_reply("+OK")
        if low.startswith("connect"):
            self._controlled = True
            self.apps.start()  # its first act, a moment later: CHANNEL_PARK
            return connect_reply(self.channel.connect_headers())
        if low.startswith("getvar"):
            name = line.split(" ", 1)[1] if " " in line else ""
            return command_reply(self.channel.variables.get(name, "") or "-ERR command not found")
        if low.startswith("myevents"):
            return command_reply(self.subscription.myevents(low))
        if low.startswith("divert_events"):
            return command_reply("+OK events diverted" if low.endswith(" on")
                                 else "+OK events not diverted")
        if low.startswith("sendmsg"):
            return command_reply(self._sendmsg(cmd))
        if low.startswith("api "):
            return api_response(self.apps.api(line[4:], in_listener=True))
        if low.startswith("bgapi "):
            job_uuid = cmd.headers.get("Job-UUID") or new_uuid()
            self._spawn(self.apps.bgapi, line[6:], job_uuid)
            return command_reply(f"+OK Job-UUID: {job_uuid}", [("Job-UUID", job_uuid)])
        if low.startswith("linger") and self.linger_supported:
            arg = line[6:]
            self.lingering = True
            if arg.startswith(" ") and arg[1:]:
                self.linger_time = int(arg[1:]) if arg[1:].strip().isdigit() else 0
                return command_reply(f"+OK will linger {self.linger_time} seconds")
            self.linger_time = -1
            return command_reply("+OK will linger")
        if low.startswith("nolinger") and self.linger_supported:
            self.lingering = False
            return command_reply("+OK will not linger")
        if low.startswith("event"):
            return command_reply(self.subscription.event(line))
        if low.startswith("nixevent"):
            return command_reply(self.subscription.nixevent(line))
        if low.startswith("noevents"):
            return command_reply(self.subscription.noevents())
        return command_reply("-ERR command not found")

    def _sendmsg(self, cmd: Command) -> str:
        target = cmd.arg.strip() or cmd.headers.get("session-id") or ""
        if target and target != self.uuid:
            return f"-ERR invalid session id [{target}]"
        if not cmd.headers.get("Event-UUID"):
            self.record.errors.append(f"sendmsg without Event-UUID: {cmd.header_list}")
        self.apps.queue(cmd)
        return "+OK"

    def now(self) -> float:
        return time.monotonic()
