"""One phone call's lifecycle, from FreeSWITCH's outbound connection to the finished chat.

``connect`` → channel data → ``myevents``/``linger`` → the call plan (call_plan.py: window, start
agent, one database read) → chat row In Arbeit → ``answer`` → ``unicast`` audio (call_audio.py)
→ the dialog (turn_loop.py, speaking through speaker.py, decisions carried out by
call_control.py) → transfer / hangup → chat Neu with its summary. Hangups and node stops reach the
dialog as exceptions; any failure, and a dialog longer than ``max_call_seconds``, ends in the
dialplan's fallback (apology + human number or voicemail).
"""

from __future__ import annotations

import logging
import uuid as uuidlib
from pathlib import Path

import gevent

from agents.actions import AgentProfile
from agents.runtime import Conversation
from config.log_context import bind_call, in_this_context
from media.engines import EngineError
from models import utcnow

from .call_audio import CallAudio
from .call_control import CallControl, CallerHungUp
from .call_plan import CallPlan, ChannelInfo, load_plan
from .chat_log import ChatLog
from .connection import EslConnection
from .dtmf import note_key
from .protocol import Event, Linger, MyEvents, Unicast
from .services import CallServices
from .speaker import Speaker
from .turn_loop import Shield, TurnLoop

log = logging.getLogger(__name__)


class NodeStopping(Exception):
    """The node is shutting down: the caller goes to the fallback, the chat is closed."""


class CallTooLong(Exception):
    """The dialog reached ``max_call_seconds``: the caller goes to the fallback."""


class CallSession:
    def __init__(self, conn: EslConnection, services: CallServices):
        self.conn = conn
        self.services = services
        self.channel: ChannelInfo | None = None
        self.plan: CallPlan | None = None
        self.chat: ChatLog | None = None
        self.control: CallControl | None = None
        self.audio: CallAudio | None = None
        self.conversation: Conversation | None = None
        self.hung_up = False
        self.shield = Shield()  # speech recognition: a hangup is delivered when it is done
        self._finishing = False
        self._dialog: gevent.Greenlet | None = None
        self._fs_port: int | None = None

    def run(self) -> None:
        try:
            self.channel = ch = ChannelInfo.from_event(self.conn.connect(timeout=5.0))
        except Exception as exc:
            log.error("outbound connection failed before the call started: %s", exc)
            self.conn.close()
            return
        bind_call(ch.uuid)
        log.info("call from %s to %s", ch.caller_number or "unbekannt", ch.called_number)
        self.chat = ChatLog(self.services.db_app, ch.uuid)
        self.control = CallControl(self.conn, self.chat, self.services, ch.uuid)
        self.conn.on_event(in_this_context(self._on_event))
        self.services.live.add(ch.uuid, called_number=ch.called_number,
                               caller_number=ch.caller_number, agent="", chat_id=None)
        watcher = gevent.spawn(in_this_context(self._watch_connection))
        try:
            self._dialog = gevent.spawn(in_this_context(self._run_dialog))
            self._dialog.join()
        finally:
            watcher.kill(block=False)
            self._finish()

    def leave(self, reason: str) -> None:
        """The node is stopping: a caller still talking to an agent goes to the fallback (a
        human, ESL.md), not into silence. A transfer or hangup already under way just ends."""
        if self._finishing or self.hung_up or self.control is None or self.control.leaving:
            return
        if self._dialog is not None and not self._dialog.dead:
            if not self.shield.deliver(NodeStopping(reason)):
                self._dialog.kill(NodeStopping(reason), block=False)

    # ------------------------------------------------------------------ FreeSWITCH's side
    def _watch_connection(self) -> None:
        """The channel is gone when FreeSWITCH says so (linger notice) or the socket ends."""
        gevent.wait([self.conn.closed, self.conn.hangup_notice], count=1)
        if self.conn.hangup_notice.is_set():
            self._on_hangup("linger notice")
            return
        reason = self.conn.close_reason or "connection closed"
        if self.conn.broken:
            self.control.end_reason = self.control.end_reason or "error"
            self.chat.note("error", message=f"ESL-Verbindung gestört: {reason}")
        self._on_hangup(reason)

    def _on_event(self, event: Event) -> None:
        if event.name in ("CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"):
            self._on_hangup(event.get("Hangup-Cause") or "")
        elif event.name == "DTMF":
            note_key(event, self.channel.rate, self.chat)

    def _on_hangup(self, cause: str) -> None:
        if self.hung_up:
            return
        self.hung_up = True
        log.info("channel gone (%s)", cause or "no cause")
        if self.shield.deliver(CallerHungUp(cause)):
            return
        if not self._finishing and self._dialog is not None and not self._dialog.dead:
            self._dialog.kill(CallerHungUp(cause), block=False)

    # ------------------------------------------------------------------ the dialog
    def _run_dialog(self) -> None:
        control = self.control
        try:
            limit = self.services.settings.max_call_seconds
            with gevent.Timeout(limit, CallTooLong(f"Gespräch länger als {limit} s")):
                self._converse()
        except CallerHungUp:
            control.end_reason = control.end_reason or "caller_hangup"
        except NodeStopping as exc:
            log.info("node stopping: the caller goes to the fallback")
            self._fall_back(str(exc))
        except Exception as exc:
            if self.hung_up:
                control.end_reason = control.end_reason or "caller_hangup"
                log.info("call ended while %s: %s", type(exc).__name__, exc)
                return
            log.exception("call failed, falling back: %s", exc)
            self.chat.note("error", message=f"{type(exc).__name__}: {exc}")
            self._fall_back(f"{type(exc).__name__}: {exc}")

    def _fall_back(self, reason: str) -> None:
        try:
            self.control.fallback(reason)
        except CallerHungUp:
            log.info("caller hung up during the fallback")

    def _converse(self) -> None:
        ch, chat, services, control = self.channel, self.chat, self.services, self.control
        self.conn.send(MyEvents())
        # no `resume`: the dialplan's socket_resume=true already sends a call we drop to its
        # fallback, and unlike that variable the listener flag cannot be taken back before a
        # transfer (call_control.py, _hand_to_dialplan)
        self.conn.send(Linger())
        self.plan = plan = load_plan(services, ch)
        chat.open(called_number=ch.called_number, caller_number=ch.caller_number,
                  caller_name=ch.caller_name)
        services.live.update(ch.uuid, chat_id=chat.chat_id)
        agent = plan.start_agent
        if agent is None:
            control.fallback(f"Kein Zeitfenster mit Agent für die Nummer {ch.called_number}")
            return
        chat.started_with(plan.window_name, agent.id, agent.name)
        services.live.update(ch.uuid, agent=agent.name)
        if not services.engines_ready:
            control.fallback("Sprach-Engines nicht bereit: " + "; ".join(
                services.engine_problems or ["STT/TTS fehlt"]))
            return
        self.conn.execute("answer", timeout=5.0)
        chat.update(answered_at=utcnow())
        self._start_audio(agent)
        self.conversation = Conversation(agent, plan.directory, services.llm,
                                         knowledge=plan.knowledge)
        speaker = Speaker(self.audio, services.tts, chat, self.conversation, control)
        TurnLoop(self.audio.ear, services.stt, self.conversation, speaker, chat,
                 self.shield).run(plan.policy.announcement)

    def _start_audio(self, agent: AgentProfile) -> None:
        ch, services, host = self.channel, self.services, self.services.unicast_host
        path: Path | None = None  # recording off: no file is written at all
        if self.plan.recording:
            path = services.settings.recordings_dir / self.plan.recording
            path.parent.mkdir(parents=True, exist_ok=True)
        else:
            self.chat.note("recording_off")
        self._fs_port = services.ports.acquire()
        self.audio = CallAudio(rate=ch.rate, host=host,
                               freeswitch_port=self._fs_port, pacer=services.pacer,
                               recording_path=path, turn_taking=agent.turn_taking)
        self.audio.start()
        self.conn.send(Unicast(local_ip=host, local_port=self._fs_port, remote_ip=host,
                               remote_port=self.audio.port, event_uuid=str(uuidlib.uuid4())))

    # ------------------------------------------------------------------ after the call
    def _finish(self) -> None:
        self._finishing = True
        chat, control, duration = self.chat, self.control, 0.0
        try:
            if self.audio is not None:
                duration = self.audio.close()
        except Exception:
            log.exception("could not finish the recording")
        finally:
            if self._fs_port is not None:
                self.services.ports.release(self._fs_port)
        agent = self.conversation.agent if self.conversation is not None else None
        self._best_effort("end of the chat", chat.close, end_reason=control.end_reason
                          or "caller_hangup", transferred_to=control.transferred_to,
                          last_agent=agent)
        self.conn.close()
        self.services.live.remove(self.channel.uuid)
        if chat.chat_id is not None:
            if self.audio is not None and self.plan.recording:
                self._best_effort("recording", chat.add_recording, self.plan.recording,
                                  self.audio.rate, duration)
            if self.conversation is not None:
                self._best_effort("summary", self._store_summary)
        log.info("call finished (%s)", control.end_reason or "unknown")

    def _best_effort(self, what: str, fn, *args, **kwargs) -> None:
        try:
            fn(*args, **kwargs)
        except Exception:
            log.exception("could not store the %s", what)

    def _store_summary(self) -> None:
        try:
            summary = self.conversation.summarize(self.chat.transcript(),
                                                  list(self.plan.tag_choices))
        except (EngineError, gevent.Timeout) as exc:
            log.warning("no summary: %s", exc)
            return
        self.chat.add_summary(summary, caller_name=not self.channel.caller_name)
