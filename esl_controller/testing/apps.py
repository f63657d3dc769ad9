"""The stand-in's park loop: queued ``sendmsg`` commands, dialplan apps and API commands.

Follows ``switch_ivr_park`` / ``switch_ivr_parse_event`` (switch_ivr.c) and
``switch_core_session_exec`` (switch_core_session.c), checked against the real FreeSWITCH 1.11:
the park loop starts a moment after ``connect`` (so CHANNEL_PARK races the controller's
``myevents``) and runs queued commands on its 20 ms frame clock (before media: one per tick),
so ``+OK`` comes before CHANNEL_EXECUTE. Apps run one after another; each fires
CHANNEL_EXECUTE, runs, fires CHANNEL_EXECUTE_COMPLETE with ``Application-Response`` (``_none_``
unless the app set one) and ``Application-UUID`` (= the sendmsg's ``Event-UUID``);
``Application-Data`` only when there is an argument. An app that resets the session tears a
running unicast down when it ends. When the park loop ends: CHANNEL_UNPARK and the ``socket``
app's own CHANNEL_EXECUTE_COMPLETE. An unknown app hangs the call up with
DESTINATION_OUT_OF_ORDER, as FS does.
"""

from __future__ import annotations

import logging
import os
import re
import time
import wave
from collections.abc import Callable
from typing import TYPE_CHECKING

import gevent
import gevent.event
import gevent.queue

from ..protocol import Command, new_uuid

if TYPE_CHECKING:
    from .standin import FreeSwitchStandIn

log = logging.getLogger(__name__)

NOOP_APPS = frozenset({"log", "info", "ring_ready", "park", "break", "sched_hangup",
                       "record_session", "stop_record_session", "event", "respond", "echo"})
"""Apps the stand-in knows but that change nothing it models (``park`` under socket control is
a no-op in FS too)."""

MEDIA_APPS = frozenset({"playback", "sleep", "record_session", "echo"})
"""Apps that need media: FS pre-answers an unanswered channel before running them."""

RESET_APPS = frozenset({"playback", "record", "bridge", "transfer", "speak", "say", "phrase",
                        "play_and_get_digits", "read", "gentones"})
"""Apps that end with ``switch_core_session_reset``, which deactivates unicast (measured for
playback; ``set``, ``export``, ``log``, ``sleep`` and ``answer`` leave it running)."""

PARK_TICK_S = 0.02
"""The park loop handles queued commands once per frame it reads."""
PARK_START_S = 0.002
"""From ``connect`` to ``switch_ivr_park`` firing CHANNEL_PARK (0–20 ms on the real one)."""

_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def _atoi(text: str) -> int:
    match = re.match(r"\s*([+-]?\d+)", text or "")
    return int(match.group(1)) if match else 0


def _wav_seconds(path: str) -> float:
    try:
        with wave.open(path) as wav:
            return wav.getnframes() / float(wav.getframerate())
    except (wave.Error, EOFError, OSError):
        return 0.1  # not a WAV FS would still play: short


class AppRunner:
    """The park loop of one channel."""

    def __init__(self, standin: FreeSwitchStandIn):
        self.s = standin
        self._queue: gevent.queue.Queue = gevent.queue.Queue()
        self._loop: gevent.Greenlet | None = None
        self._idle = gevent.event.Event()
        self._idle.set()
        self._break = gevent.event.Event()
        self.parked = True
        """Until the park loop ends (hangup, transfer, controller gone)."""
        self._apps: dict[str, Callable[[str], str | None]] = {
            "answer": self._answer, "pre_answer": self._pre_answer, "playback": self._playback,
            "sleep": self._sleep, "set": self._set, "export": self._set, "unset": self._unset,
            "hangup": self._hangup, "transfer": self._transfer, "bridge": self._bridge,
        }

    # ------------------------------------------------------------------ loop control

    def start(self) -> None:
        if self._loop is None:
            self._loop = gevent.spawn(self._park_loop)

    def queue(self, cmd: Command) -> None:
        self._queue.put(("msg", cmd))

    def wake(self) -> None:
        self._queue.put(("wake", None))

    def interrupt(self) -> None:
        """``uuid_break`` / a transfer: the running app returns early."""
        self._break.set()
        self.wake()

    def listener_gone(self) -> None:
        self._queue.put(("gone", None))

    def wait_idle(self, timeout: float) -> bool:
        return self._idle.wait(timeout)

    @property
    def in_park(self) -> bool:
        """The park loop runs (and will end with UNPARK and the hangup state machine)."""
        return self._loop is not None and not self._loop.dead and self.parked

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.kill(block=False)

    def _park_loop(self) -> None:
        s = self.s
        gevent.sleep(PARK_START_S)
        if s.channel.up:
            s.fire("CHANNEL_PARK", function="switch_ivr_park")
        started = time.monotonic()
        batch = False
        while s.channel.up and not s.transferred:
            kind, cmd = self._queue.get()
            if kind == "gone":
                break
            if kind != "msg" or cmd is None:
                continue
            if not batch:
                self._next_tick(started)
            try:
                self._process(cmd)
            except Exception as exc:  # a stand-in bug must show up in the record
                log.exception("stand-in %s: failed on %s", s.uuid, cmd.line)
                s.record.errors.append(f"stand-in failed on {cmd.header_list}: {exc!r}")
            # switch_ivr_parse_all_events: with media, everything queued runs in one go
            batch = s.media.media_ready and not self._queue.empty()
        self._park_ended()

    @staticmethod
    def _next_tick(started: float) -> None:
        ticks = int((time.monotonic() - started) / PARK_TICK_S) + 1
        gevent.sleep(max(0.0, started + ticks * PARK_TICK_S - time.monotonic()))

    def _park_ended(self) -> None:
        """CHANNEL_UNPARK, the socket app's EXECUTE_COMPLETE, then what the channel does next."""
        s = self.s
        s.media.deactivate()
        s.fire("CHANNEL_UNPARK", function="switch_ivr_park")
        response = s.channel.variables.get("current_application_response") or "_none_"
        s.fire("CHANNEL_EXECUTE_COMPLETE",
               [("Application", "socket"), ("Application-Data", s.channel.socket_data),
                ("Application-Response", response), ("Application-UUID", new_uuid())],
               function="switch_core_session_exec")
        self.parked = False
        if not s.channel.up:
            s.hangup_state_machine()
        elif s.transferred:
            for state in ("CS_ROUTING", "CS_EXECUTE"):
                s.enter_state(state)
        else:  # the controller went away
            s.socket_app_returned()

    # ------------------------------------------------------------------ sendmsg

    def _process(self, cmd: Command) -> None:
        headers = cmd.headers
        call_command = (headers.get("call-command") or "").lower()
        if call_command == "execute":
            self._execute(cmd)
        elif call_command == "hangup":
            self.s.hang_up(headers.get("hangup-cause") or "NORMAL_CLEARING", "controller")
        elif call_command == "unicast":
            self._unicast(cmd)
        elif call_command == "xferext":
            apps = [value for name, value in cmd.header_list if name.lower() == "application"]
            self.s.transfer("xferext:" + ",".join(apps))
        else:
            self.s.record.errors.append(f"call-command {call_command!r} is not modelled")

    def _execute(self, cmd: Command) -> None:
        headers = cmd.headers
        app = (headers.get("execute-app-name") or "").strip()
        arg = headers.get("execute-app-arg") or ""
        if not arg and cmd.body and "text/plain" in (headers.get("content-type") or ""):
            arg = cmd.body.decode("utf-8", errors="replace")
        app_uuid = headers.get("Event-UUID") or new_uuid()
        loops = max(1, _atoi(headers.get("loops") or "1"))
        for _ in range(loops):
            if not self.s.channel.up:
                return
            self._exec_one(app, arg, app_uuid)

    def _exec_one(self, app: str, arg: str, app_uuid: str) -> None:
        s = self.s
        if not s.channel.up:
            return  # "Channel is hungup, aborting execution of application"
        handler = self._apps.get(app)
        if handler is None and app not in NOOP_APPS:
            s.record.errors.append(f"unknown application {app!r}: FS hangs up")
            s.hang_up("DESTINATION_OUT_OF_ORDER", "controller")
            return
        if app in MEDIA_APPS and not s.media.media_ready:
            self._pre_answer("")
        expanded = _VARIABLE.sub(lambda m: s.channel.variables.get(m.group(1), ""), arg)
        s.record.executed.append((app, expanded))
        s.channel.set_variable("current_loop", "1")
        s.channel.set_variable("total_loops", "1")
        s.channel.set_variable("current_application", app)
        s.channel.set_variable("current_application_data", expanded)
        s.channel.set_variable("current_application_response", "")
        data = [("Application-Data", expanded)] if expanded else []
        self._idle.clear()
        self._break.clear()
        s.media.forwarding = False
        try:
            s.fire("CHANNEL_EXECUTE", [("Application", app), *data,
                                       ("Application-UUID", app_uuid)],
                   function="switch_core_session_exec")
            response = handler(expanded) if handler else None
            if response:
                s.channel.set_variable("current_application_response", response)
            if app in RESET_APPS:
                s.media.reset()
            s.media.forwarding = True
            s.fire("CHANNEL_EXECUTE_COMPLETE",
                   [("Application", app), *data,
                    ("Application-Response", response or "_none_"),
                    ("Application-UUID", app_uuid)],
                   function="switch_core_session_exec")
        finally:
            s.media.forwarding = True
            self._idle.set()

    def _unicast(self, cmd: Command) -> None:
        s, headers = self.s, cmd.headers
        local_ip = headers.get("local-ip") or "127.0.0.1"
        local_port = _atoi(headers.get("local-port") or "8025")
        remote_ip = headers.get("remote-ip") or "127.0.0.1"
        remote_port = _atoi(headers.get("remote-port") or "8026")
        transport = (headers.get("transport") or "udp").lower()
        flags = headers.get("flags") or ""
        if transport not in ("udp", "tcp"):
            s.record.errors.append(f"unicast: invalid transport {transport!r} (FS only logs)")
            return
        if not s.media.media_ready:
            s.record.errors.append("unicast before answer: FS has no read codec yet")
        if "native" in flags:
            s.record.errors.append("unicast flags native: the stand-in only speaks L16")
        try:
            note = s.media.activate(local_ip, local_port, remote_ip, remote_port)
        except OSError as exc:
            s.record.errors.append(f"unicast bind {local_ip}:{local_port} failed: {exc}")
            return
        if note:
            s.record.errors.append(note)
            return
        s.record.unicast = {"local_ip": local_ip, "local_port": str(local_port),
                            "remote_ip": remote_ip, "remote_port": str(remote_port),
                            "transport": transport, "flags": flags}

    # ------------------------------------------------------------------ apps

    def _wait(self, seconds: float) -> str | None:
        """Sleep inside an app; returns "hangup" or "break" if that cut it short."""
        gevent.wait([self.s.hungup, self._break], timeout=max(0.0, seconds), count=1)
        if self.s.hungup.is_set():
            return "hangup"
        if self._break.is_set():
            return "break"
        return None

    def _answer(self, arg: str) -> None:
        self.s.answer()

    def _pre_answer(self, arg: str) -> None:
        s = self.s
        if s.media.media_ready:
            return
        s.channel.answer_state = "early"
        s.media.media_ready = True
        s.fire("CHANNEL_PROGRESS_MEDIA", function="switch_channel_perform_mark_pre_answered")

    def _playback(self, arg: str) -> str:
        path = arg.strip()
        if path.startswith("silence_stream://"):
            seconds = max(0, _atoi(path[17:])) / 1000.0
        elif path.startswith("tone_stream://"):
            seconds = 1.0
        elif os.path.isfile(path):
            seconds = _wav_seconds(path)
        else:
            return "FILE NOT FOUND"
        started = time.monotonic()
        cut = self._wait(seconds)
        played_ms = int((time.monotonic() - started) * 1000)
        for name, value in (("playback_last_offset_pos", str(played_ms * 8)),
                            ("playback_seconds", str(played_ms // 1000)),
                            ("playback_ms", str(played_ms)),
                            ("playback_samples", str(played_ms * self.s.media.rate // 1000))):
            self.s.channel.set_variable(name, value)
        return "PLAYBACK ERROR" if cut == "hangup" else "FILE PLAYED"

    def _sleep(self, arg: str) -> None:
        self._wait(max(0, _atoi(arg)) / 1000.0)

    def _set(self, arg: str) -> None:
        name, sep, value = arg.partition("=")
        if not sep:
            return
        if value:
            self.s.channel.variables[name.strip()] = value
        else:
            self.s.channel.variables.pop(name.strip(), None)

    def _unset(self, arg: str) -> None:
        self.s.channel.variables.pop(arg.strip(), None)

    def _hangup(self, arg: str) -> None:
        self.s.hang_up(arg.strip() or "NORMAL_CLEARING", "controller")

    def _transfer(self, arg: str) -> None:
        self.s.transfer(arg.strip())

    def _bridge(self, arg: str) -> None:
        s = self.s
        s.record.transferred_to = arg.strip()
        s.answer()
        b_uuid = new_uuid()
        legs = [("Bridge-A-Unique-ID", s.uuid), ("Bridge-B-Unique-ID", b_uuid)]
        s.fire("CHANNEL_BRIDGE", legs, function="switch_ivr_multi_threaded_bridge")
        if self._wait(s.far_end_talk_s) == "hangup":
            return
        s.fire("CHANNEL_UNBRIDGE", legs, function="switch_ivr_multi_threaded_bridge")
        if s.channel.variables.get("hangup_after_bridge", "").lower() == "true":
            s.hang_up("NORMAL_CLEARING", "far_end")

    # ------------------------------------------------------------------ api / bgapi

    def api(self, line: str, *, in_listener: bool = False) -> str:
        """One API command. ``in_listener``: run by the socket's own listener (``api``), which
        then notices a hangup it caused at once (``bgapi`` runs in a thread of its own)."""
        s = self.s
        command, _, arg = line.strip().partition(" ")
        args = arg.split()
        mine = bool(args) and args[0] == s.uuid and s.channel.up
        if command in ("uuid_kill", "uuid_transfer", "uuid_break", "uuid_setvar",
                       "uuid_getvar") and not mine:
            return "-ERR No such channel!\n"
        if command == "uuid_kill":
            cause = args[1] if len(args) > 1 else "NORMAL_CLEARING"
            if in_listener:  # the api/response goes out first, then CHANNEL_HANGUP
                s.after_reply(lambda: s.hang_up(cause, "controller", noticed_by_listener=True))
            else:
                s.hang_up(cause, "controller")
            return "+OK\n"
        if command == "uuid_transfer":
            rest = arg.split(" ", 1)[1].strip() if " " in arg else ""
            if rest.startswith(("-bleg ", "-both ")):
                rest = rest[6:].strip()
            if not rest:
                return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
            s.transfer(rest)
            self.interrupt()
            return "+OK\n"
        if command == "uuid_break":
            self.interrupt()
            return "+OK\n"
        if command == "uuid_setvar" and len(args) >= 2:
            s.channel.variables[args[1]] = " ".join(args[2:])
            return "+OK\n"
        if command == "uuid_getvar" and len(args) >= 2:
            return s.channel.variables.get(args[1]) or "_undef_"
        if command == "uuid_exists":
            return "true" if mine else "false"
        return f"-ERR {command} Command not found!\n"

    def bgapi(self, line: str, job_uuid: str) -> None:
        s = self.s
        output = self.api(line)
        command, _, arg = line.strip().partition(" ")
        extra = [("Job-UUID", job_uuid), ("Job-Owner-UUID", s.uuid), ("Job-Command", command)]
        if arg:
            extra.append(("Job-Command-Arg", arg))
        s.fire_headers(s.channel.plain_event("BACKGROUND_JOB", extra), body=output.encode())
