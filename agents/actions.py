"""What a Conversation asks the call to do. The call path (esl_controller) carries them out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from config.turn_taking import DEFAULT_TURN_TAKING, TurnTaking


@dataclass(frozen=True)
class AgentProfile:
    """A snapshot of one agent row, safe to hold for a whole call."""

    id: int
    name: str
    template: str
    params: dict[str, Any] = field(default_factory=dict)
    language: str = "de"
    voice: str = ""
    form_of_address: str = "Sie"
    turn_taking: TurnTaking = DEFAULT_TURN_TAKING

    @classmethod
    def from_row(cls, row: Any) -> AgentProfile:
        return cls(
            id=row.id, name=row.name, template=row.template, params=dict(row.params or {}),
            language=row.language or "de", voice=row.voice or "",
            form_of_address=row.form_of_address or "Sie",
            turn_taking=TurnTaking(endpoint_silence_ms=row.endpoint_silence_ms)
            if row.endpoint_silence_ms else DEFAULT_TURN_TAKING,
        )


@dataclass(frozen=True)
class Say:
    """Speak one sentence (the reply streams sentence by sentence)."""

    text: str


@dataclass(frozen=True)
class HandOver:
    """The conversation switched to ``to``; the next Say is the new agent's greeting."""

    from_agent: AgentProfile
    to: AgentProfile
    reason: str = ""


@dataclass(frozen=True)
class Transfer:
    """Connect the caller to a configured phone number; the call leaves the agents."""

    number: str
    label: str = ""


@dataclass(frozen=True)
class EndCall:
    """Hang up after everything said so far has been played."""

    reason: str = ""


@dataclass(frozen=True)
class ToolUsed:
    """A tool ran (for the chat's timeline)."""

    name: str
    arguments: dict[str, Any]
    result: str = ""
    ok: bool = True


Action = Say | HandOver | Transfer | EndCall | ToolUsed
