"""The turn loop and the speaker without sockets (the seam of pipecat's ``run_test``).

:class:`TurnHarness` runs the real ``TurnLoop`` + ``Speaker`` + ``Conversation`` + ``ChatLog`` (on a
real SQLite file) for one agent. Only the two ends are stand-ins: :class:`TestLine` plays the
agent's audio on a clock the test advances (:meth:`TestLine.tick`; or at once with
``auto_play``) and hears the caller through a real ``CallerEar``; :class:`RecordedDecisions`
notes the handovers, transfers and hangups the call would carry out on FreeSWITCH.

Feed the caller's side with ``harness.says(text)`` (an utterance, transcribed by the scripted
STT), ``harness.ear.hear(frame, now)`` (real audio through the endpointer) or
``harness.barge_in()`` (the endpointer's speech onset); then assert on ``harness.turns()`` and
``harness.decisions.made``.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from gevent.event import Event

from agents.actions import AgentProfile, HandOver
from agents.directory import AgentDirectory
from agents.runtime import Conversation
from media.audio import FRAME_MS, frame_bytes, resample
from media.engines import Audio, LanguageModel, SpeechToText, TextToSpeech
from media.vad import SpeechStarted
from models import Chat, create_db_app, db, upgrade_schema

from ..call_audio import CallerEar, Utterance
from ..chat_log import ChatLog
from ..speaker import Speaker
from ..turn_loop import TurnLoop

RATE = 8000


class TestLine:
    """The agent's audio as FreeSWITCH would take it: 20 ms frames go out as the test's clock
    ticks (or all at once with ``auto_play``); a barge-in drops what is still queued."""

    __test__ = False  # not a pytest class

    def __init__(self, agent: AgentProfile, *, auto_play: bool = True):
        self.auto_play = auto_play
        self._frames: collections.deque[object] = collections.deque()  # one mark per frame
        self._frame_bytes = frame_bytes(RATE)
        self._drained = Event()
        self._drained.set()
        self.queued = Event()  # set whenever agent audio is queued
        self.marks_played: list[object] = []
        self.first_packet_at: float | None = None
        self._first_pending = False
        self.replying = False
        self.ear = CallerEar(RATE, agent.turn_taking, stop_agent=self._clear,
                             agent_talking=lambda: bool(self._frames) or self.replying)

    def begin_reply(self) -> None:
        self.ear.barge_in.clear()
        self.first_packet_at = None
        self._first_pending = True

    def play(self, audio: Audio, mark: object = None) -> int:
        pcm = resample(audio.pcm, audio.sample_rate, RATE)
        count = -(-len(pcm) // self._frame_bytes)
        self._frames.extend([mark] * count)
        self.replying = True
        if count:
            self._drained.clear()
            self.queued.set()
        if self.auto_play:
            self.tick(count * FRAME_MS / 1000)
        return count

    def tick(self, seconds: float) -> None:
        """``seconds`` of agent audio go out."""
        for _ in range(round(seconds * 1000 / FRAME_MS)):
            if not self._frames:
                break
            mark = self._frames.popleft()
            if self._first_pending:
                self._first_pending = False
                self.first_packet_at = time.monotonic()
            if not self.marks_played or self.marks_played[-1] != mark:
                self.marks_played.append(mark)
        if not self._frames:
            self._drained.set()

    def wait_played(self) -> bool:
        return self._drained.wait(timeout=30)

    def end_reply(self) -> None:
        self.replying = False

    def _clear(self) -> int:
        dropped = len(self._frames)
        self._frames.clear()
        self._drained.set()
        return dropped


@dataclass
class RecordedDecisions:
    """What the call would carry out on FreeSWITCH, in order."""

    made: list[tuple[str, str]] = field(default_factory=list)

    def hand_over(self, action: HandOver) -> None:
        self.made.append(("handover", action.to.name))

    def transfer(self, number: str, label: str) -> None:
        self.made.append(("transfer", number))

    def hang_up(self, reason: str) -> None:
        self.made.append(("hangup", reason))


@dataclass(frozen=True)
class StoredTurn:
    role: str
    text: str
    interrupted: bool
    timings: dict[str, Any]


class TurnHarness:
    """One answered call's dialog for ``agent``; the database lives in ``folder``."""

    def __init__(self, folder: Path, agent: AgentProfile, *, stt: SpeechToText,
                 tts: TextToSpeech, llm: LanguageModel | None = None, auto_play: bool = True,
                 others: tuple[AgentProfile, ...] = ()):
        self.app = create_db_app(f"sqlite:///{folder / 'harness.db'}")
        upgrade_schema(self.app)
        self.chat = ChatLog(self.app, "harness-call")
        self.chat.open(called_number="4930123456", caller_number="4917000000", caller_name="")
        self.line = TestLine(agent, auto_play=auto_play)
        self.ear = self.line.ear
        self.decisions = RecordedDecisions()
        self.conversation = Conversation(agent, AgentDirectory([agent, *others]), llm)
        self.speaker = Speaker(self.line, tts, self.chat, self.conversation, self.decisions)
        self.loop = TurnLoop(self.ear, stt, self.conversation, self.speaker, self.chat)
        self._greenlet: gevent.Greenlet | None = None

    def start(self, announcement: str = "") -> TurnHarness:
        self._greenlet = gevent.spawn(self.loop.run, announcement)
        return self

    def says(self, seconds: float = 1.0) -> None:
        """The caller finished a turn of ``seconds`` (its words: the scripted STT's next)."""
        audio = Audio(pcm=bytes(int(RATE * seconds) * 2), sample_rate=RATE)
        self.ear.utterances.put(Utterance(audio, time.monotonic()))

    def barge_in(self) -> None:
        """The endpointer found the caller speaking (media/vad.py's speech onset)."""
        self.ear.on_vad_event(SpeechStarted(at_ms=0), time.monotonic())

    def wait_done(self, timeout: float = 10.0) -> bool:
        """True when the dialog ended (transfer or hangup); re-raises what ended it badly."""
        assert self._greenlet is not None
        self._greenlet.join(timeout)
        if self._greenlet.ready():
            self._greenlet.get()
            return True
        return False

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()

    def turns(self) -> list[StoredTurn]:
        with self.app.app_context():
            try:
                chat = db.session.get(Chat, self.chat.chat_id)
                return [StoredTurn(t.role, t.text, t.interrupted, dict(t.timings or {}))
                        for t in chat.turns]
            finally:
                db.session.remove()
