"""The dialog of one answered call: listen → understand → reply, until the call leaves it.

Listen: ``CallerEar.next_utterance`` (call_audio.py; endpointing itself is media/vad.py).
Understand: STT, the caller's words stored at once, then the agent (``agents.runtime``).
Reply: the speaker (speaker.py). The idle policy is here: after the agent's ``idle_prompt_s`` of
silence it asks "Sind Sie noch da?", after ``idle_hangup_s`` more it says goodbye and hangs up
(``config.turn_taking.TurnTaking``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from agents.actions import EndCall, Say
from agents.runtime import Conversation
from media.engines import SpeechToText

from .call_audio import CallerEar, Utterance
from .chat_log import ChatLog
from .speaker import Speaker

log = logging.getLogger(__name__)


class Shield:
    """A step a hangup or node stop must not cut short (the caller's last words reach the chat):
    while it runs, :meth:`deliver` holds the exception; it is raised when the step is done."""

    def __init__(self) -> None:
        self.active = False
        self._pending: BaseException | None = None

    def deliver(self, exc: BaseException) -> bool:
        """True when held for the running step; False: the caller should raise it now."""
        if not self.active:
            return False
        self._pending = self._pending or exc
        return True

    @contextmanager
    def hold(self) -> Iterator[None]:
        self.active = True
        try:
            yield
        finally:
            self.active = False
            pending, self._pending = self._pending, None
            if pending is not None:
                raise pending


class TurnLoop:
    def __init__(self, ear: CallerEar, stt: SpeechToText, conversation: Conversation,
                 speaker: Speaker, chat: ChatLog, shield: Shield | None = None):
        self.ear = ear
        self.stt = stt
        self.conversation = conversation
        self.speaker = speaker
        self.chat = chat
        self.shield = shield or Shield()

    def run(self, announcement: str = "") -> None:
        """Greeting, then turns, until a transfer or hangup (returns) or the caller is gone."""
        if announcement:  # the recording notice comes first, before the greeting
            self.speaker.play([Say(announcement)])
        if self.speaker.play(self.conversation.greet()).left:
            return
        prompted = False
        while True:
            options = self.conversation.agent.turn_taking
            utterance = self.ear.next_utterance(
                options.idle_hangup_s if prompted else options.idle_prompt_s)
            language = self.conversation.agent.language
            if utterance is None:
                if prompted:
                    self.speaker.play([Say(options.idle_goodbye(language)),
                                       EndCall("caller silent")])
                    return
                prompted = True
                self.speaker.play([Say(options.idle_prompt(language))])
                continue
            prompted = False
            text, stt_ms = self._transcribe(utterance)
            if not text:
                log.debug("utterance without words (%.1f s)", utterance.audio.duration_s)
                continue
            if self.speaker.play(self.conversation.on_caller(text), utterance=utterance,
                                 stt_ms=stt_ms).left:
                return

    def _transcribe(self, utterance: Utterance) -> tuple[str, float]:
        """STT (text, ms), and the caller's turn stored — even if the caller hangs up meanwhile,
        their last words reach the chat (bounded by the STT timeout)."""
        with self.shield.hold():
            started = time.monotonic()
            transcript = self.stt.transcribe(utterance.audio,
                                             language=self.conversation.agent.language)
            stt_ms = (time.monotonic() - started) * 1000
            text = transcript.text.strip()
            if text:
                self.chat.add_turn("caller", text)
            return text, stt_ms
