"""How a template declares its parameters, and the contract every template fulfils."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from agents.actions import AgentProfile
    from agents.directory import AgentDirectory
    from media.engines import ToolSpec

ParamType = Literal[
    "text", "long_text", "phone_number", "agent", "choice", "number", "boolean", "targets", "list"
]


@dataclass(frozen=True)
class Parameter:
    """One field of a template's form; the admin renders it, the runtime validates it."""

    key: str
    label: str
    type: ParamType = "text"
    required: bool = False
    default: Any = None
    choices: tuple[tuple[str, str], ...] = ()  # (value, German label)
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Target:
    """A configured forwarding target: a phone number or another agent."""

    key: str
    label: str
    kind: Literal["number", "agent"]
    number: str = ""
    agent_id: int | None = None
    keywords: tuple[str, ...] = ()
    description: str = ""


@dataclass
class Template(ABC):
    """A program with declared parameters. Subclasses implement the conversation logic."""

    key: str
    label: str
    description: str
    parameters: tuple[Parameter, ...] = field(default_factory=tuple)

    def parameter(self, key: str) -> Parameter | None:
        return next((p for p in self.parameters if p.key == key), None)

    def greeting(self, profile: AgentProfile) -> str:
        return str(profile.params.get("greeting") or "")

    @abstractmethod
    def system_prompt(self, profile: AgentProfile, directory: AgentDirectory) -> str:
        """The LLM's instructions for this agent, built from its parameter values."""

    def tools(self, profile: AgentProfile, directory: AgentDirectory) -> list[ToolSpec]:
        return []
