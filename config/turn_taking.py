"""Turn-taking options: when the caller's turn ends, what counts as speech, whether the caller
may interrupt the agent, and what happens when the caller goes quiet. One typed value per agent
(``AgentProfile.turn_taking``), with ONE default: :data:`DEFAULT_TURN_TAKING`.

It lives in ``config`` because every layer needs the defaults (the agent table in ``models``,
the endpointer in ``media``, the agents, the admin form) and ``config`` is the layer all of them
may import. Where each option takes effect:

- ``endpoint_silence_ms``, ``min_speech_ms``: ``media/vad.py`` (``Endpointer``: speech onset and
  end of the caller's turn).
- ``barge_in``: ``esl_controller/call_audio.py`` (``CallerEar``: speech onset while the agent
  talks drops the agent's queued audio and sets the ``barge_in`` event), then
  ``esl_controller/speaker.py`` (the rest of the reply is not spoken; the agent's decided action
  still happens; the history keeps what the caller heard).
- ``caller_stall_s``: ``CallerEar.next_utterance`` (caller audio stopped mid-speech).
- ``idle_*``: ``esl_controller/turn_loop.py`` ("Sind Sie noch da?", then goodbye and hang up).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

STILL_THERE = MappingProxyType({"de": "Sind Sie noch da?", "en": "Are you still there?"})
GOODBYE_IDLE = MappingProxyType({
    "de": "Ich höre Sie leider nicht mehr. Auf Wiederhören!",
    "en": "I can't hear you any more. Goodbye!",
})


@dataclass(frozen=True)
class TurnTaking:
    """How one agent takes turns with the caller (see the module docstring for where)."""

    endpoint_silence_ms: int = 600  # caller silence that ends their turn
    min_speech_ms: int = 120  # voiced audio (with a pitch) that counts as the caller speaking
    barge_in: bool = True  # caller speech while the agent talks stops the agent
    caller_stall_s: float = 3.0  # no caller audio this long mid-speech: the turn ends there
    idle_prompt_s: float = 12.0  # caller silent this long: ask once whether they are still there
    idle_hangup_s: float = 10.0  # then this long: say goodbye and hang up
    idle_prompts: Mapping[str, str] = field(default_factory=lambda: STILL_THERE)
    idle_goodbyes: Mapping[str, str] = field(default_factory=lambda: GOODBYE_IDLE)

    def idle_prompt(self, language: str) -> str:
        return self.idle_prompts.get(language) or self.idle_prompts.get("de", "")

    def idle_goodbye(self, language: str) -> str:
        return self.idle_goodbyes.get(language) or self.idle_goodbyes.get("de", "")


DEFAULT_TURN_TAKING = TurnTaking()
