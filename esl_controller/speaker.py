"""The speaker: plays an agent's actions on the call and says what came of them.

``Say`` is synthesised and queued sentence by sentence as the agent streams; ``ToolUsed`` goes on
the chat's timeline; ``HandOver``/``Transfer``/``EndCall`` are carried out by the call's
:class:`Decisions` (call_control.py) once what was said before them has been played.

Barge-in (detected in call_audio.py, ``CallerEar``) reaches the speaker as the ear's
``barge_in`` event: the rest of the reply is not spoken, but what the agent decided still happens;
the chat and the agent's history keep only what the caller heard (``Conversation.on_interrupted``).
Each reply is stored with its timings (endpoint, STT, LLM first token, TTS first audio, total and
our overhead from the caller's last speech to the first agent packet).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from agents.actions import Action, EndCall, HandOver, Say, ToolUsed, Transfer
from agents.runtime import Conversation
from media.engines import Audio, TextToSpeech

from .call_audio import CallerEar, Utterance
from .chat_log import ChatLog

log = logging.getLogger(__name__)


class Line(Protocol):
    """What the speaker needs of the call's audio (CallAudio; in tests testing.turns.TestLine)."""

    ear: CallerEar
    first_packet_at: float | None

    def begin_reply(self) -> None: ...
    def play(self, audio: Audio, mark: object = None) -> int: ...
    def wait_played(self) -> bool: ...
    def end_reply(self) -> None: ...
    @property
    def marks_played(self) -> list[object]: ...


class Decisions(Protocol):
    """What the agent decided, carried out on the call (CallControl)."""

    def hand_over(self, action: HandOver) -> None: ...
    def transfer(self, number: str, label: str) -> None: ...
    def hang_up(self, reason: str) -> None: ...


@dataclass(frozen=True)
class Spoken:
    """One agent reply as the caller heard it."""

    agent: str
    text: str
    interrupted: bool
    timings: dict[str, float]


@dataclass
class Played:
    replies: list[Spoken] = field(default_factory=list)
    left: bool = False  # the call left the dialog (transfer or hangup)


class Speaker:
    def __init__(self, line: Line, tts: TextToSpeech, chat: ChatLog, conversation: Conversation,
                 decisions: Decisions):
        self.line = line
        self.tts = tts
        self.chat = chat
        self.conversation = conversation
        self.decisions = decisions
        self._replies = 0

    def play(self, actions: Iterable[Action], *, utterance: Utterance | None = None,
             stt_ms: float = 0.0) -> Played:
        """Play an agent's reply as it streams and carry out its final action."""
        played = Played()
        reply = self._reply(utterance, stt_ms)
        try:
            for action in actions:
                if isinstance(action, Say):
                    if not reply.interrupted:  # after a barge-in the rest is not spoken ...
                        reply.say(action.text)
                elif isinstance(action, ToolUsed):
                    self.chat.note("tool_call", tool=action.name, arguments=action.arguments,
                                   result=action.result, ok=action.ok)
                elif isinstance(action, HandOver):  # ... but what the agent decided happens
                    played.replies += reply.finish()
                    self.line.ear.use(action.to.turn_taking)
                    self.decisions.hand_over(action)
                    reply = self._reply(None, 0.0)
                elif isinstance(action, Transfer | EndCall):
                    played.replies += reply.finish()
                    played.left = True
                    if isinstance(action, Transfer):
                        self.decisions.transfer(action.number, action.label)
                    else:
                        self.decisions.hang_up(action.reason)
                    return played
            played.replies += reply.finish()
            return played
        except BaseException:  # hangup or engine fault: keep what the caller already heard
            reply.store(interrupted=True)
            raise

    def _reply(self, utterance: Utterance | None, stt_ms: float) -> _Reply:
        self._replies += 1
        return _Reply(self, self._replies, utterance, stt_ms)


class _Reply:
    """One agent reply as it is spoken: its sentences, what of it went out, its timings."""

    def __init__(self, speaker: Speaker, number: int, utterance: Utterance | None,
                 stt_ms: float):
        self.speaker = speaker
        self.line = speaker.line
        self.agent = speaker.conversation.agent
        self.number = number
        self.utterance = utterance
        self.stt_ms = stt_ms
        self.started = time.monotonic()
        self.sentences: list[tuple[object, str]] = []
        self.timings: dict[str, float] = {}
        self.line.begin_reply()

    @property
    def interrupted(self) -> bool:
        return self.line.ear.barge_in.is_set()

    def say(self, text: str) -> None:
        if not text.strip():
            return
        if not self.timings:
            self.timings = {"endpoint": float(self.agent.turn_taking.endpoint_silence_ms),
                            "stt": round(self.stt_ms, 1),
                            "llm_ttft": round((time.monotonic() - self.started) * 1000, 1)}
        tts_started = time.monotonic()
        spoken = self.speaker.tts.synthesize(text, language=self.agent.language,
                                             voice=self.agent.voice)
        self.timings.setdefault("tts_first_audio",
                                round((time.monotonic() - tts_started) * 1000, 1))
        if self.interrupted:  # the caller spoke while this sentence was synthesised
            return
        mark = (self.number, len(self.sentences))
        self.sentences.append((mark, text))
        self.line.play(spoken, mark)

    def finish(self) -> list[Spoken]:
        """Wait until the reply is played (or the caller barged in), then store it."""
        if self.sentences and not self.line.wait_played():
            log.warning("agent audio still queued after its length: storing the reply anyway")
        return self.store(interrupted=self.interrupted)

    def store(self, *, interrupted: bool) -> list[Spoken]:
        self.line.end_reply()
        if not self.sentences:
            return []
        sent = set(self.line.marks_played[-len(self.sentences):])
        text = " ".join(t for mark, t in self.sentences if not interrupted or mark in sent)
        self.sentences.clear()
        self._measure()
        speaker = self.speaker
        speaker.chat.add_turn("agent", text, agent_name=self.agent.name,
                              interrupted=interrupted, timings=dict(self.timings))
        if interrupted:
            speaker.conversation.on_interrupted(text)
        return [Spoken(self.agent.name, text, interrupted, dict(self.timings))]

    def _measure(self) -> None:
        """Caller's last speech → first agent packet, and what of it was ours."""
        first_packet = self.line.first_packet_at
        if self.utterance is None or first_packet is None or "total" in self.timings:
            return
        total = (first_packet - self.utterance.last_speech_at) * 1000
        compute = sum(self.timings.get(k, 0.0) for k in ("stt", "llm_ttft", "tts_first_audio"))
        self.timings["total"] = round(total, 1)
        self.timings["overhead"] = round(total - self.timings["endpoint"] - compute, 1)
