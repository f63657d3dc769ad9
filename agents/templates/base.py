"""How a template declares its parameters, and the contract every template fulfils."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from agents.actions import Action, AgentProfile
    from agents.context import TurnContext
    from agents.directory import AgentDirectory

ParamType = Literal[
    "text", "long_text", "phone_number", "agent", "choice", "number", "boolean", "targets",
    "list", "steps", "webhooks", "target_key",
]


@dataclass(frozen=True)
class Parameter:
    """One field of a template's form; the admin renders it, the runtime validates it.

    Types: ``text``/``long_text`` (str), ``phone_number`` (str of digits, optional leading +),
    ``agent`` (an agent id), ``choice`` (one of ``choices``), ``number`` (int within
    ``minimum``..``maximum``), ``boolean``, ``list`` (list of str), ``targets`` (list of target
    dicts, see `Target`), ``target_key`` (the key of one of this agent's targets), ``steps``
    (list of ``{"key", "question", "kind"}``), ``webhooks`` (list of ``{"key", "label", "url"}``).
    """

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


@dataclass(frozen=True)
class Webhook:
    """A URL the customer configured; the LLM names it by key, never by URL."""

    key: str
    label: str
    url: str
    description: str = ""


@dataclass(frozen=True)
class Step:
    """One step of a Workflow-Bot: the question asked and what kind of answer it takes."""

    key: str
    question: str
    kind: Literal["text", "name", "phone_number", "date"] = "text"


def slug(text: str) -> str:
    """A stable key from a label: ``"Buchhaltung & Rechnungen"`` -> ``buchhaltung_rechnungen``."""
    folded = text.lower().translate(str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}))
    return re.sub(r"[^a-z0-9]+", "_", folded).strip("_")


def parse_targets(raw: Any) -> list[Target]:
    """Targets from the stored parameter value; malformed entries are skipped (validation
    reports them to the admin, a running call never fails over them)."""
    targets: list[Target] = []
    seen: set[str] = set()
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        label = str(item.get("label") or "").strip()
        key = str(item.get("key") or slug(label)).strip()
        kind = item.get("kind")
        if not key or key in seen or kind not in ("number", "agent"):
            continue
        agent_id = item.get("agent_id")
        if kind == "agent" and not isinstance(agent_id, int):
            continue
        number = str(item.get("number") or "").strip()
        if kind == "number" and not number:
            continue
        words = item.get("keywords") or []
        if isinstance(words, str):
            words = [w for w in re.split(r"[,;\n]", words)]
        keywords = tuple(str(w).strip() for w in words if str(w).strip())
        seen.add(key)
        targets.append(Target(
            key=key, label=label or key, kind=kind, number=number if kind == "number" else "",
            agent_id=agent_id if kind == "agent" else None, keywords=keywords,
            description=str(item.get("description") or ""),
        ))
    return targets


def parse_webhooks(raw: Any) -> list[Webhook]:
    hooks: list[Webhook] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        url = str(item.get("url") or "").strip()
        label = str(item.get("label") or "").strip()
        key = str(item.get("key") or slug(label)).strip()
        if key and url.startswith(("http://", "https://")) and key not in {h.key for h in hooks}:
            hooks.append(Webhook(key=key, label=label or key, url=url,
                                 description=str(item.get("description") or "")))
    return hooks


def parse_steps(raw: Any) -> list[Step]:
    steps: list[Step] = []
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(item, dict) or not str(item.get("question") or "").strip():
            continue
        kind = item.get("kind") if item.get("kind") in ("text", "name", "phone_number",
                                                          "date") else "text"
        key = str(item.get("key") or f"schritt_{i + 1}").strip()
        steps.append(Step(key=key, question=str(item["question"]).strip(), kind=kind))
    return steps


@dataclass
class Template(ABC):
    """A program with declared parameters. Subclasses implement the conversation logic.

    A turn runs in one of two modes: `respond` with an LLM, or `respond_offline` (keyword mode)
    when no LLM is configured or it failed. Both yield actions; at most one of HandOver,
    Transfer, EndCall, and nothing after it.
    """

    key: str
    label: str
    description: str
    parameters: tuple[Parameter, ...] = field(default_factory=tuple)
    # Which tools an agent of this template offers the LLM (see agents.tools).
    tool_kinds: tuple[str, ...] = ("handover", "transfer", "end_call", "webhook")

    def parameter(self, key: str) -> Parameter | None:
        return next((p for p in self.parameters if p.key == key), None)

    def defaults(self) -> dict[str, Any]:
        return {p.key: p.default for p in self.parameters if p.default is not None}

    def value(self, profile: AgentProfile, key: str) -> Any:
        """The agent's value for ``key``, else the declared default."""
        value = profile.params.get(key)
        if value is None or value == "":
            param = self.parameter(key)
            return param.default if param else None
        return value

    def greeting(self, profile: AgentProfile) -> str:
        return str(profile.params.get("greeting") or "")

    def greet(self, ctx: TurnContext) -> Iterator[Action]:
        """The agent's first line (also after a handover)."""
        yield from ctx.say(self.greeting(ctx.profile) or ctx.phrase("greeting"))

    def targets(self, profile: AgentProfile) -> list[Target]:
        return parse_targets(profile.params.get("targets"))

    def webhooks(self, profile: AgentProfile) -> list[Webhook]:
        return parse_webhooks(profile.params.get("webhooks"))

    def check(self, params: dict[str, Any]) -> dict[str, str]:
        """Checks across fields, beyond each parameter's own type (field key -> German error)."""
        return {}

    @abstractmethod
    def system_prompt(self, profile: AgentProfile, directory: AgentDirectory) -> str:
        """The LLM's instructions for this agent, built from its parameter values."""

    @abstractmethod
    def respond(self, ctx: TurnContext, text: str) -> Iterator[Action]:
        """One caller turn with the LLM (``ctx.llm`` is set)."""

    @abstractmethod
    def respond_offline(self, ctx: TurnContext, text: str) -> Iterator[Action]:
        """One caller turn without an LLM (keyword mode)."""
