"""One phone call: from FreeSWITCH's outbound connection to the finished chat.

Lifecycle: ``connect`` → channel data → ``myevents``/``linger``/``resume`` → time window picks
the start agent → chat row (In Arbeit) → ``answer`` → ``unicast`` audio → dialog (greeting, then
caller utterance → STT → agent → TTS, sentence by sentence) → transfer / hangup → chat Neu.
Any error on the way ends in the dialplan's fallback (apology + human number or voicemail).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid as uuidlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import gevent
from gevent.queue import Empty

from agents.actions import Action, AgentProfile, EndCall, HandOver, Say, ToolUsed, Transfer
from agents.directory import AgentDirectory
from agents.knowledge.retrieval import KnowledgeBase
from agents.runtime import Conversation
from media.engines import EngineError
from models import CustomerSettings, RecordingPolicy, db, recording_policy, utcnow
from models.timewindows import resolve_for_number

from .call_audio import CallAudio, Utterance
from .chat_log import ChatLog
from .connection import EslConnection
from .dtmf import KeyPress
from .protocol import Event, Hangup, Linger, MyEvents, Unicast
from .services import CallServices

log = logging.getLogger(__name__)

IDLE_PROMPT_S = 12.0  # caller silent this long: ask once whether they are still there
IDLE_HANGUP_S = 10.0  # then this long: say goodbye and hang up
STILL_THERE = {"de": "Sind Sie noch da?", "en": "Are you still there?"}
GOODBYE_IDLE = {
    "de": "Ich höre Sie leider nicht mehr. Auf Wiederhören!",
    "en": "I can't hear you any more. Goodbye!",
}


class NodeStopping(Exception):
    """The node is shutting down: the caller goes to the fallback, the chat is closed."""


class CallerHungUp(Exception):
    """Raised into the dialog when the channel hangs up or FreeSWITCH disconnects."""


@dataclass(frozen=True)
class ChannelInfo:
    uuid: str
    called_number: str
    caller_number: str
    caller_name: str
    rate: int

    @classmethod
    def from_event(cls, event: Event) -> ChannelInfo:
        uuid = event.get("Unique-ID") or event.get("variable_uuid") or ""
        if not uuid:
            raise ValueError("channel data without Unique-ID")
        called = (event.get("Caller-Destination-Number")
                  or event.get("Channel-Destination-Number") or "")
        name = event.get("Caller-Caller-ID-Name") or ""
        number = event.get("Caller-Caller-ID-Number") or ""
        try:
            rate = int(event.get("Channel-Read-Codec-Rate") or 8000)
        except ValueError:
            rate = 8000
        return cls(uuid=uuid, called_number=called, caller_number=number,
                   caller_name="" if name in {number, "_undef_"} else name,
                   rate=rate if rate in (8000, 16000, 32000, 48000) else 8000)


class _CallLog(logging.LoggerAdapter):
    def process(self, msg, kwargs):
        return f"[{self.extra['uuid']}] {msg}", kwargs


class CallSession:
    def __init__(self, conn: EslConnection, services: CallServices):
        self.conn = conn
        self.services = services
        self.log: logging.LoggerAdapter = _CallLog(log, {"uuid": "-"})
        self.channel: ChannelInfo | None = None
        self.chat: ChatLog | None = None
        self.audio: CallAudio | None = None
        self.conversation: Conversation | None = None
        self.start_agent: AgentProfile | None = None
        self.directory: AgentDirectory | None = None
        self.knowledge: KnowledgeBase | None = None
        self.window_name = ""
        self.tag_choices: list[str] = []
        self.end_reason = ""
        self.transferred_to = ""
        self.hung_up = False
        self._finishing = False
        self._shielded = False  # a hangup now is delivered when the shielded step is done
        self._leaving = False  # transfer, hangup or fallback under way: a node stop waits for it
        self._stop_reason = ""  # the node stops: delivered when the shielded step is done
        self._dialog: gevent.Greenlet | None = None
        self._fs_port: int | None = None
        self._recording_relative = ""
        self.policy = RecordingPolicy()  # the called number's: recording on/off, announcement
        self._reply_no = 0

    # ------------------------------------------------------------------ lifecycle

    def run(self) -> None:
        try:
            channel_data = self.conn.connect(timeout=5.0)
            self.channel = ChannelInfo.from_event(channel_data)
        except Exception as exc:
            log.error("outbound connection failed before the call started: %s", exc)
            self.conn.close()
            return
        ch = self.channel
        self.log = _CallLog(log, {"uuid": ch.uuid})
        self.log.info("call from %s to %s", ch.caller_number or "unbekannt", ch.called_number)
        self.conn.on_event(self._on_event)
        self.services.live.add(ch.uuid, called_number=ch.called_number,
                               caller_number=ch.caller_number, agent="", chat_id=None)
        watcher = gevent.spawn(self._watch_connection)
        try:
            self._dialog = gevent.spawn(self._run_dialog)
            self._dialog.join()
        finally:
            watcher.kill(block=False)
            self._finish()

    def leave(self, reason: str) -> None:
        """The node is stopping: a caller still talking to an agent goes to the fallback (a
        human, ESL.md), not into silence. A transfer or hangup already under way just ends."""
        if self._finishing or self._leaving or self.hung_up:
            return
        if self._dialog is None or self._dialog.dead:
            return
        if self._shielded:
            self._stop_reason = reason
            return
        self._dialog.kill(NodeStopping(reason), block=False)

    def _watch_connection(self) -> None:
        """The channel is gone when FreeSWITCH says so (linger notice) or the socket ends."""
        gevent.wait([self.conn.closed, self.conn.hangup_notice], count=1)
        if self.conn.hangup_notice.is_set():
            self._on_hangup("linger notice")
            return
        reason = self.conn.close_reason or "connection closed"
        if self.conn.broken:
            self.end_reason = self.end_reason or "error"
            self._record_event("error", message=f"ESL-Verbindung gestört: {reason}")
        self._on_hangup(reason)

    def _on_event(self, event: Event) -> None:
        if event.name in ("CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"):
            self._on_hangup(event.get("Hangup-Cause") or "")
        elif event.name == "DTMF":
            self._on_key(event)

    def _on_key(self, event: Event) -> None:
        """A key the caller pressed: logged and on the chat timeline (esl_controller/dtmf.py)."""
        key = KeyPress.from_event(event, self.channel.rate if self.channel else 8000)
        if key is None:
            self.log.warning("DTMF event without a known digit: %r", event.get("DTMF-Digit"))
            return
        self.log.info("caller pressed %s (%d ms, %s)", key.digit, key.duration_ms,
                      key.source or "?")
        self._record_event("dtmf", digit=key.digit, text=key.text, source=key.source,
                           duration_ms=key.duration_ms)

    def _on_hangup(self, cause: str) -> None:
        if self.hung_up:
            return
        self.hung_up = True
        self.log.info("channel gone (%s)", cause or "no cause")
        if self._shielded:
            return
        if not self._finishing and self._dialog is not None and not self._dialog.dead:
            self._dialog.kill(CallerHungUp(cause), block=False)

    def _run_dialog(self) -> None:
        try:
            self._prepare()
            self._converse()
        except CallerHungUp:
            self.end_reason = self.end_reason or "caller_hangup"
        except NodeStopping as exc:
            self.log.info("node stopping: the caller goes to the fallback")
            try:
                self._fallback(str(exc))
            except CallerHungUp:
                self.log.info("caller hung up during the fallback")
        except Exception as exc:
            if self.hung_up:
                self.end_reason = self.end_reason or "caller_hangup"
                self.log.info("call ended while %s: %s", type(exc).__name__, exc)
                return
            self.log.exception("call failed, falling back: %s", exc)
            self._record_event("error", message=f"{type(exc).__name__}: {exc}")
            try:
                self._fallback(f"{type(exc).__name__}: {exc}")
            except CallerHungUp:
                self.log.info("caller hung up during the fallback")

    def _prepare(self) -> None:
        ch = self.channel
        assert ch is not None
        self.conn.send(MyEvents())
        self.conn.send(Linger())
        # no `resume`: the dialplan's socket_resume=true already sends a call we drop to its
        # fallback, and unlike that variable the listener flag cannot be taken back before a
        # transfer (see _hand_to_dialplan)
        app = self.services.db_app
        with app.app_context():
            try:
                window, _tz = resolve_for_number(db.session, ch.called_number,
                                                 dt.datetime.now(dt.UTC))
                self.directory = AgentDirectory.load(db.session)
                self.knowledge = self.services.knowledge_base(db.session)
                customer = CustomerSettings.get()
                self.tag_choices = list(customer.tag_choices or [])
                self.policy = recording_policy(db.session, ch.called_number)
                db.session.commit()
            finally:
                db.session.remove()
        self.chat = ChatLog(app, ch.uuid)
        self.chat.open(called_number=ch.called_number, caller_number=ch.caller_number,
                       caller_name=ch.caller_name)
        self.services.live.update(ch.uuid, chat_id=self.chat.chat_id)
        if window is not None:
            self.window_name = window.name
            self.start_agent = self.directory.get(window.agent_id)
        if self.start_agent is not None:
            self.chat.update(window_name=self.window_name, start_agent_id=self.start_agent.id,
                             start_agent_name=self.start_agent.name,
                             last_agent_id=self.start_agent.id,
                             last_agent_name=self.start_agent.name)
            self._record_event("window", window=self.window_name, agent=self.start_agent.name)
            self.services.live.update(ch.uuid, agent=self.start_agent.name)

    # ------------------------------------------------------------------ the dialog

    def _converse(self) -> None:
        ch = self.channel
        assert ch is not None and self.chat is not None
        if self.start_agent is None:
            self._fallback(f"Kein Zeitfenster mit Agent für die Nummer {ch.called_number}")
            return
        if not self.services.engines_ready:
            self._fallback("Sprach-Engines nicht bereit: " + "; ".join(
                self.services.engine_problems or ["STT/TTS fehlt"]))
            return
        self.conn.execute("answer", timeout=5.0)
        self.chat.update(answered_at=utcnow())
        self._start_audio()
        self.conversation = Conversation(self.start_agent, self.directory, self.services.llm,
                                         knowledge=self.knowledge)
        if self.policy.announcement:  # the recording notice comes first, before the greeting
            self._speak([Say(self.policy.announcement)])
        if self._speak(self.conversation.greet()):
            return
        prompted = False
        while True:
            assert self.audio is not None
            try:
                utterance = self.audio.utterances.get(
                    timeout=IDLE_HANGUP_S if prompted else IDLE_PROMPT_S)
            except Empty:
                if self.audio.endpointer.in_speech:  # a long turn, still going: keep listening
                    continue
                lang = self.conversation.agent.language
                if prompted:
                    self._speak([Say(GOODBYE_IDLE.get(lang, GOODBYE_IDLE["de"])),
                                 EndCall("caller silent")])
                    return
                prompted = True
                self._speak([Say(STILL_THERE.get(lang, STILL_THERE["de"]))])
                continue
            prompted = False
            text, stt_ms = self._transcribe(utterance)
            if not text:
                self.log.debug("utterance without words (%.1f s)", utterance.audio.duration_s)
                continue
            if self._speak(self.conversation.on_caller(text), utterance=utterance, stt_ms=stt_ms):
                return

    def _transcribe(self, utterance: Utterance) -> tuple[str, float]:
        """STT (text, ms), and the caller's turn stored — even if the caller hangs up meanwhile,
        their last words reach the chat (bounded by the STT timeout)."""
        self._shielded = True
        try:
            started = time.monotonic()
            transcript = self.services.stt.transcribe(
                utterance.audio, language=self.conversation.agent.language)
            stt_ms = (time.monotonic() - started) * 1000
            text = transcript.text.strip()
            if text:
                self.chat.add_turn("caller", text)
            return text, stt_ms
        finally:
            self._shielded = False
            if self.hung_up:
                raise CallerHungUp("during speech recognition")
            if self._stop_reason:
                raise NodeStopping(self._stop_reason)

    def _start_audio(self) -> None:
        ch = self.channel
        assert ch is not None and self.chat is not None and self.start_agent is not None
        services = self.services
        self._fs_port = services.ports.acquire()
        day = dt.datetime.now(dt.UTC).strftime("%Y/%m/%d")
        relative = Path(day) / f"{ch.uuid}.wav"
        path: Path | None = None  # recording off: no file is written at all
        if self.policy.record:
            path = services.settings.recordings_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
        else:
            self._record_event("recording_off")
        self.audio = CallAudio(call_uuid=ch.uuid, rate=ch.rate, host=services.unicast_host,
                               freeswitch_port=self._fs_port, pacer=services.pacer,
                               recording_path=path,
                               silence_ms=self.start_agent.endpoint_silence_ms)
        self._recording_relative = str(relative) if path is not None else ""
        self.audio.start()
        host = services.unicast_host
        self.conn.send(Unicast(local_ip=host, local_port=self._fs_port, remote_ip=host,
                               remote_port=self.audio.port, event_uuid=str(uuidlib.uuid4())))

    def _speak(self, actions: Iterable[Action], *, utterance: Utterance | None = None,
               stt_ms: float = 0.0) -> bool:
        """Play an agent's reply as it streams and carry out its final action.

        Returns True when the call left the dialog (transfer or hangup)."""
        assert self.audio is not None and self.conversation is not None
        reply = self._new_reply(utterance, stt_ms)
        try:
            for action in actions:
                if isinstance(action, Say):
                    if not reply.barged_in:  # after a barge-in the rest is not spoken ...
                        reply.say(action.text)
                elif isinstance(action, ToolUsed):
                    self._record_event("tool_call", tool=action.name,
                                       arguments=action.arguments, result=action.result,
                                       ok=action.ok)
                elif isinstance(action, HandOver):  # ... but what the agent decided happens
                    reply.finish()
                    self._hand_over(action)
                    reply = self._new_reply(None, 0.0)
                elif isinstance(action, Transfer):
                    reply.finish()
                    self._transfer(action.number, action.label)
                    return True
                elif isinstance(action, EndCall):
                    reply.finish()
                    self._hang_up(action.reason)
                    return True
            reply.finish()
            return False
        except BaseException:  # hangup or engine fault: keep what the caller already heard
            reply.store(interrupted=True)
            raise

    def _new_reply(self, utterance: Utterance | None, stt_ms: float) -> _Reply:
        self._reply_no += 1
        return _Reply(self, utterance, stt_ms)

    def _hand_over(self, action: HandOver) -> None:
        assert self.chat is not None and self.audio is not None and self.channel is not None
        self._record_event("handover", from_agent=action.from_agent.name,
                           to_agent=action.to.name, reason=action.reason)
        self.chat.update(last_agent_id=action.to.id, last_agent_name=action.to.name)
        self.services.live.update(self.channel.uuid, agent=action.to.name)
        self.audio.set_silence_ms(action.to.endpoint_silence_ms)
        self.log.info("handover %s -> %s", action.from_agent.name, action.to.name)

    def _hang_up(self, reason: str) -> None:
        self._leaving = True
        self._record_event("hangup", by="agent", reason=reason)
        self.end_reason = "agent_hangup"
        self.conn.send(Hangup(event_uuid=str(uuidlib.uuid4())))
        gevent.wait([self.conn.closed, self.conn.hangup_notice], count=1, timeout=5.0)

    # ------------------------------------------------------------------ leaving the dialog

    def _transfer(self, number: str, label: str) -> None:
        context = self.services.settings.transfer_context
        self._leaving = True
        self._record_event("transfer", number=number, label=label)
        self.log.info("transfer to %s (%s)", number, label or "ohne Bezeichnung")
        self._hand_to_dialplan(f"{number} XML {context}")
        self.end_reason = "transfer"
        self.transferred_to = number

    def _fallback(self, reason: str) -> None:
        """The dialplan's fallback extension apologises and bridges to a human or voicemail."""
        settings = self.services.settings
        self._leaving = True
        self.end_reason = "fallback"
        self._record_event("fallback", reason=reason)
        self.log.warning("fallback: %s", reason)
        try:
            self._hand_to_dialplan(f"{settings.fallback_extension} XML {settings.fallback_context}")
        except CallerHungUp:
            raise
        except Exception as exc:
            # the socket closing after `resume` also lands in the dialplan's fallback actions
            self.log.error("fallback transfer failed (%s); closing so the dialplan falls back", exc)

    def _hand_to_dialplan(self, destination: str) -> None:
        """``transfer`` the call, then let the socket go without disturbing it.

        When the controller closes the socket with socket_resume on, FreeSWITCH resets the channel
        (CS_RESET) — by then it runs the extension we transferred to, so its bridge to the human
        is cancelled (487) and the caller lands in the voicemail. Switching the variable off first
        makes closing after the transfer harmless."""
        self.conn.execute("set", "socket_resume=false", timeout=5.0)
        self.conn.execute("transfer", destination, timeout=5.0)

    def _record_event(self, kind: str, **data) -> None:
        if self.chat is None or self.chat.chat_id is None:
            return
        try:
            self.chat.add_event(kind, **data)
        except Exception:
            self.log.exception("could not store %s event", kind)

    def _finish(self) -> None:
        self._finishing = True
        ch = self.channel
        duration = 0.0
        try:
            if self.audio is not None:
                duration = self.audio.close()
        except Exception:
            self.log.exception("could not finish the recording")
        finally:
            if self._fs_port is not None:
                self.services.ports.release(self._fs_port)
        self._store_end()
        self.conn.close()
        if ch is not None:
            self.services.live.remove(ch.uuid)
        if self.chat is not None and self.chat.chat_id is not None:
            if self.audio is not None and self._recording_relative:
                self._best_effort("recording", self.chat.add_recording,
                                  self._recording_relative, self.audio.rate, duration)
            self._best_effort("summary", self._store_summary)
        self.log.info("call finished (%s)", self.end_reason or "unknown")

    def _best_effort(self, what: str, fn, *args, **kwargs) -> None:
        try:
            fn(*args, **kwargs)
        except Exception:
            self.log.exception("could not store the %s", what)

    def _store_end(self) -> None:
        """Status Neu, end time and outcome: written first, so the chat never stays open."""
        if self.chat is None or self.chat.chat_id is None:
            return
        fields: dict = {"status": "neu", "ended_at": utcnow(),
                        "end_reason": self.end_reason or "caller_hangup",
                        "transferred_to": self.transferred_to}
        if self.conversation is not None:
            fields.update(last_agent_id=self.conversation.agent.id,
                          last_agent_name=self.conversation.agent.name)
        self._best_effort("end of the chat", self.chat.update, **fields)

    def _store_summary(self) -> None:
        if self.conversation is None or self.chat is None:
            return
        try:
            summary = self.conversation.summarize(self.chat.transcript(), self.tag_choices)
        except (EngineError, gevent.Timeout) as exc:
            self.log.warning("no summary: %s", exc)
            return
        fields: dict = {"summary": summary.summary, "tags": summary.tags,
                        "summary_is_extract": summary.is_extract}
        if summary.caller_name and not self.channel.caller_name:
            fields["caller_name"] = summary.caller_name
        self.chat.update(**fields)


class _Reply:
    """One agent reply as it is spoken: its sentences, what of it went out, its timings."""

    def __init__(self, session: CallSession, utterance: Utterance | None, stt_ms: float):
        assert session.audio is not None and session.conversation is not None
        self.session = session
        self.audio = session.audio
        self.agent = session.conversation.agent
        self.utterance = utterance
        self.started = time.monotonic()
        self.barge_ins_before = self.audio.barge_ins
        self.sentences: list[tuple[object, str]] = []
        self.timings: dict[str, float] = {}
        self.stt_ms = stt_ms
        self.number = session._reply_no
        self.audio.arm_first_packet()

    @property
    def barged_in(self) -> bool:
        return self.audio.barge_ins != self.barge_ins_before

    def say(self, text: str) -> None:
        if not text.strip():
            return
        session = self.session
        if not self.timings:
            self.timings = {"endpoint": float(self.agent.endpoint_silence_ms),
                            "stt": round(self.stt_ms, 1),
                            "llm_ttft": round((time.monotonic() - self.started) * 1000, 1)}
        tts_started = time.monotonic()
        spoken = session.services.tts.synthesize(text, language=self.agent.language,
                                                 voice=self.agent.voice)
        self.timings.setdefault("tts_first_audio",
                                round((time.monotonic() - tts_started) * 1000, 1))
        if self.barged_in:  # the caller spoke while this sentence was synthesised
            return
        mark = (self.number, len(self.sentences))
        self.sentences.append((mark, text))
        self.audio.play(spoken, mark)
        self.audio.replying = True

    def finish(self) -> None:
        """Wait until the reply is played (or the caller barged in), then store it."""
        # bounded: a reply can't play longer than a call may last
        self.audio.stream.wait_drained(timeout=self.session.services.settings.max_call_seconds)
        self.store(interrupted=self.barged_in)

    def store(self, *, interrupted: bool) -> None:
        self.audio.replying = False
        if not self.sentences:
            return
        sent = set(self.audio.stream.marks_sent[-len(self.sentences):])
        spoken = [text for mark, text in self.sentences if not interrupted or mark in sent]
        text = " ".join(spoken)
        self.sentences.clear()
        self._measure()
        self.session.chat.add_turn("agent", text, agent_name=self.agent.name,
                                   interrupted=interrupted, timings=dict(self.timings))
        if interrupted:
            self.session.conversation.on_interrupted(text)

    def _measure(self) -> None:
        """Caller's last speech → first agent packet, and what of it was ours."""
        first_packet = self.audio.first_packet_at
        if self.utterance is None or first_packet is None or "total" in self.timings:
            return
        total = (first_packet - self.utterance.last_speech_at) * 1000
        compute = sum(self.timings.get(k, 0.0) for k in ("stt", "llm_ttft", "tts_first_audio"))
        self.timings["total"] = round(total, 1)
        self.timings["overhead"] = round(total - self.timings["endpoint"] - compute, 1)
