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
from agents.runtime import Conversation
from media.engines import EngineError
from models import CustomerSettings, db, utcnow
from models.timewindows import resolve_for_number

from .call_audio import CallAudio
from .chat_log import ChatLog
from .connection import EslConnection
from .protocol import Event, Hangup, Linger, MyEvents, Resume, Unicast
from .services import CallServices

log = logging.getLogger(__name__)

IDLE_PROMPT_S = 12.0  # caller silent this long: ask once whether they are still there
IDLE_HANGUP_S = 10.0  # then this long: say goodbye and hang up
STILL_THERE = {"de": "Sind Sie noch da?", "en": "Are you still there?"}
GOODBYE_IDLE = {
    "de": "Ich höre Sie leider nicht mehr. Auf Wiederhören!",
    "en": "I can't hear you any more. Goodbye!",
}


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
        self.window_name = ""
        self.tag_choices: list[str] = []
        self.end_reason = ""
        self.transferred_to = ""
        self.hung_up = False
        self._finishing = False
        self._dialog: gevent.Greenlet | None = None
        self._fs_port: int | None = None
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

    def _watch_connection(self) -> None:
        self.conn.wait_closed(timeout=None)
        self._on_hangup("connection closed")

    def _on_event(self, event: Event) -> None:
        if event.name in ("CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"):
            self._on_hangup(event.get("Hangup-Cause") or "")

    def _on_hangup(self, cause: str) -> None:
        if self.hung_up:
            return
        self.hung_up = True
        self.log.info("channel gone (%s)", cause or "no cause")
        if not self._finishing and self._dialog is not None and not self._dialog.dead:
            self._dialog.kill(CallerHungUp(cause), block=False)

    def _run_dialog(self) -> None:
        try:
            self._prepare()
            self._converse()
        except CallerHungUp:
            self.end_reason = self.end_reason or "caller_hangup"
        except Exception as exc:
            if self.hung_up:
                self.end_reason = self.end_reason or "caller_hangup"
                self.log.info("call ended while %s: %s", type(exc).__name__, exc)
                return
            self.log.exception("call failed, falling back: %s", exc)
            self._record_event("error", message=f"{type(exc).__name__}: {exc}")
            self._fallback(f"{type(exc).__name__}: {exc}")

    def _prepare(self) -> None:
        ch = self.channel
        assert ch is not None
        self.conn.send(MyEvents())
        self.conn.send(Linger())
        self.conn.send(Resume())  # if we leave without transfer/hangup, the dialplan falls back
        app = self.services.db_app
        with app.app_context():
            try:
                window, _tz = resolve_for_number(db.session, ch.called_number,
                                                 dt.datetime.now(dt.UTC))
                self.directory = AgentDirectory.load(db.session)
                customer = CustomerSettings.get()
                self.tag_choices = list(customer.tag_choices or [])
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
        self.conversation = Conversation(self.start_agent, self.directory, self.services.llm)
        if self._speak(self.conversation.greet()):
            return
        prompted = False
        while True:
            assert self.audio is not None
            try:
                utterance = self.audio.utterances.get(
                    timeout=IDLE_HANGUP_S if prompted else IDLE_PROMPT_S)
            except Empty:
                lang = self.conversation.agent.language
                if prompted:
                    self._speak([Say(GOODBYE_IDLE.get(lang, GOODBYE_IDLE["de"])),
                                 EndCall("caller silent")])
                    return
                prompted = True
                self._speak([Say(STILL_THERE.get(lang, STILL_THERE["de"]))])
                continue
            prompted = False
            agent = self.conversation.agent
            stt_started = time.monotonic()
            transcript = self.services.stt.transcribe(utterance.audio, language=agent.language)
            stt_ms = (time.monotonic() - stt_started) * 1000
            text = transcript.text.strip()
            if not text:
                self.log.debug("utterance without words (%.1f s)", utterance.audio.duration_s)
                continue
            self.chat.add_turn("caller", text)
            if self._speak(self.conversation.on_caller(text), utterance=utterance, stt_ms=stt_ms):
                return

    def _start_audio(self) -> None:
        ch = self.channel
        assert ch is not None and self.chat is not None and self.start_agent is not None
        services = self.services
        self._fs_port = services.ports.acquire()
        day = dt.datetime.now(dt.UTC).strftime("%Y/%m/%d")
        relative = Path(day) / f"{ch.uuid}.wav"
        path = services.settings.recordings_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        self.audio = CallAudio(call_uuid=ch.uuid, rate=ch.rate, host=services.unicast_host,
                               freeswitch_port=self._fs_port, pacer=services.pacer,
                               recording_path=path,
                               silence_ms=self.start_agent.endpoint_silence_ms)
        self._recording_relative = str(relative)
        self.audio.start()
        host = services.unicast_host
        self.conn.send(Unicast(local_ip=host, local_port=self._fs_port, remote_ip=host,
                               remote_port=self.audio.port, event_uuid=str(uuidlib.uuid4())))

    def _speak(self, actions: Iterable[Action], *, utterance=None, stt_ms: float = 0.0) -> bool:
        """Play an agent's reply as it streams; carry out its final action.

        Returns True when the call left the dialog (transfer or hangup)."""
        audio, chat = self.audio, self.chat
        assert audio is not None and chat is not None and self.conversation is not None
        self._reply_no += 1
        barge_ins_before = audio.barge_ins
        audio.arm_first_packet()
        started = time.monotonic()
        sentences: list[tuple[object, str]] = []
        agent_name = self.conversation.agent.name
        timings: dict[str, float] = {}

        def flush(interrupted: bool) -> None:
            if not sentences:
                return
            if interrupted:
                sent = set(audio.stream.marks_sent[-len(sentences):])
                spoken = [text for mark, text in sentences if mark in sent]
            else:
                spoken = [text for _, text in sentences]
            text = " ".join(spoken)
            first_audio = audio.first_packet_at
            if utterance is not None and first_audio is not None and "total" not in timings:
                self._add_latency(timings, utterance, audio.first_packet_at)
            chat.add_turn("agent", text, agent_name=agent_name, interrupted=interrupted,
                          timings=dict(timings))
            if interrupted:
                self.conversation.on_interrupted(text)
            sentences.clear()

        for action in actions:
            if audio.barge_ins != barge_ins_before:
                break
            if isinstance(action, Say):
                if not action.text.strip():
                    continue
                if "llm_ttft" not in timings:
                    timings["endpoint"] = float(self.conversation.agent.endpoint_silence_ms)
                    timings["stt"] = round(stt_ms, 1)
                    timings["llm_ttft"] = round((time.monotonic() - started) * 1000, 1)
                tts_started = time.monotonic()
                spoken = self.services.tts.synthesize(
                    action.text, language=self.conversation.agent.language,
                    voice=self.conversation.agent.voice)
                if "tts_first_audio" not in timings:
                    timings["tts_first_audio"] = round((time.monotonic() - tts_started) * 1000, 1)
                mark = (self._reply_no, len(sentences))
                sentences.append((mark, action.text))
                audio.play(spoken, mark)
            elif isinstance(action, ToolUsed):
                self._record_event("tool_call", tool=action.name, arguments=action.arguments,
                                   result=action.result, ok=action.ok)
            elif isinstance(action, HandOver):
                self._wait_played(audio)
                flush(audio.barge_ins != barge_ins_before)
                agent_name = action.to.name
                self._record_event("handover", from_agent=action.from_agent.name,
                                   to_agent=action.to.name, reason=action.reason)
                chat.update(last_agent_id=action.to.id, last_agent_name=action.to.name)
                self.services.live.update(self.channel.uuid, agent=action.to.name)
                audio.set_silence_ms(action.to.endpoint_silence_ms)
                self.log.info("handover %s -> %s", action.from_agent.name, action.to.name)
            elif isinstance(action, Transfer):
                self._wait_played(audio)
                flush(audio.barge_ins != barge_ins_before)
                self._transfer(action.number, action.label)
                return True
            elif isinstance(action, EndCall):
                self._wait_played(audio)
                flush(audio.barge_ins != barge_ins_before)
                self._record_event("hangup", by="agent", reason=action.reason)
                self.end_reason = "agent_hangup"
                self.conn.send(Hangup(event_uuid=str(uuidlib.uuid4())))
                self.conn.wait_closed(timeout=5.0)
                return True
        self._wait_played(audio)
        flush(audio.barge_ins != barge_ins_before)
        return False

    def _wait_played(self, audio: CallAudio) -> None:
        # bounded: a reply can't play longer than the call may last
        audio.stream.wait_drained(timeout=self.services.settings.max_call_seconds)

    def _add_latency(self, timings: dict[str, float], utterance, first_packet_at: float) -> None:
        total = (first_packet_at - utterance.last_speech_at) * 1000
        timings["total"] = round(total, 1)
        compute = sum(timings.get(k, 0.0) for k in ("stt", "tts_first_audio"))
        # llm_ttft was measured from the start of the reply, which already includes nothing else
        compute += timings.get("llm_ttft", 0.0)
        timings["overhead"] = round(total - timings.get("endpoint", 0.0) - compute, 1)

    # ------------------------------------------------------------------ leaving the dialog

    def _transfer(self, number: str, label: str) -> None:
        context = self.services.settings.transfer_context
        self._record_event("transfer", number=number, label=label)
        self.end_reason = "transfer"
        self.transferred_to = number
        self.log.info("transfer to %s (%s)", number, label or "ohne Bezeichnung")
        self.conn.execute("transfer", f"{number} XML {context}", timeout=5.0)

    def _fallback(self, reason: str) -> None:
        """The dialplan's fallback extension apologises and bridges to a human or voicemail."""
        settings = self.services.settings
        self.end_reason = "fallback"
        self._record_event("fallback", reason=reason)
        self.log.warning("fallback: %s", reason)
        try:
            self.conn.execute(
                "transfer",
                f"{settings.fallback_extension} XML {settings.fallback_context}", timeout=5.0)
        except CallerHungUp:
            raise
        except Exception as exc:
            # the socket closing after `resume` also lands in the dialplan's fallback actions
            self.log.error("fallback transfer failed (%s); closing so the dialplan falls back", exc)

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
        try:
            duration = self.audio.close() if self.audio is not None else 0.0
            if self._fs_port is not None:
                self.services.ports.release(self._fs_port)
            if self.chat is not None and self.chat.chat_id is not None:
                if self.audio is not None:
                    self.chat.add_recording(self._recording_relative, self.audio.rate, duration)
                self._store_outcome()
        except Exception:
            self.log.exception("could not finish the chat")
        finally:
            self.conn.close()
            if ch is not None:
                self.services.live.remove(ch.uuid)
            self.log.info("call finished (%s)", self.end_reason or "unknown")

    def _store_outcome(self) -> None:
        assert self.chat is not None
        fields: dict = {"status": "neu", "ended_at": utcnow(),
                        "end_reason": self.end_reason or "caller_hangup",
                        "transferred_to": self.transferred_to}
        if self.conversation is not None:
            fields.update(last_agent_id=self.conversation.agent.id,
                          last_agent_name=self.conversation.agent.name)
            try:
                summary = self.conversation.summarize(self.chat.transcript(), self.tag_choices)
                fields.update(summary=summary.summary, tags=summary.tags,
                              summary_is_extract=summary.is_extract)
                if summary.caller_name and not self.channel.caller_name:
                    fields["caller_name"] = summary.caller_name
            except (EngineError, gevent.Timeout) as exc:
                self.log.warning("no summary: %s", exc)
        self.chat.update(**fields)

