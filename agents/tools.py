"""The tools an agent offers the LLM, and their guarded execution.

The caller is untrusted, and so is everything the LLM says. A tool argument is the *key* of a
target configured for this agent (an enum in the tool's schema), never a number, URL or agent
id; `ToolBox.dispatch` checks it again against the agent's configuration, so a key that is not
configured — or a raw number the caller dictated — reaches nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

from agents.actions import AgentProfile, EndCall, ToolUsed, Transfer
from agents.templates.base import Target, Template, Webhook
from media.engines import ToolCall, ToolSpec

if TYPE_CHECKING:
    from agents.directory import AgentDirectory
    from agents.knowledge.retrieval import KnowledgeBase

log = logging.getLogger(__name__)

MAX_WEBHOOK_PAYLOAD = 4000  # bytes of JSON the LLM may send to a webhook
MAX_TOOL_RESULT = 1500  # characters of a tool result the LLM gets back


@dataclass(frozen=True)
class ToolOutcome:
    """What a tool call did. ``handover_to``/``terminal`` end the turn; ``result`` goes back to
    the LLM as the tool's answer."""

    used: ToolUsed
    result: str
    handover_to: AgentProfile | None = None
    terminal: Transfer | EndCall | None = None


class ToolBox:
    """The tools of one agent during one call."""

    def __init__(self, profile: AgentProfile, template: Template, directory: AgentDirectory, *,
                 knowledge: KnowledgeBase | None = None, webhook_timeout_s: float = 5.0,
                 handover_allowed: Callable[[], bool] = lambda: True):
        self.profile = profile
        self.template = template
        self.directory = directory
        self.knowledge = knowledge
        self.webhook_timeout_s = webhook_timeout_s
        self.handover_allowed = handover_allowed
        self.targets = template.targets(profile)
        self.webhooks = template.webhooks(profile)

    # ------------------------------------------------------------------ what the LLM sees
    def agent_targets(self) -> list[Target]:
        """Agent targets whose agent still exists (a deleted agent is no target)."""
        return [t for t in self.targets
                if t.kind == "agent" and self.directory.get(t.agent_id) is not None
                and t.agent_id != self.profile.id]

    def number_targets(self) -> list[Target]:
        return [t for t in self.targets if t.kind == "number"]

    def specs(self) -> list[ToolSpec]:
        kinds = self.template.tool_kinds
        specs: list[ToolSpec] = []
        agents = self.agent_targets()
        if "handover" in kinds and agents:
            specs.append(ToolSpec(
                "handover",
                "Übergibt das Gespräch an einen anderen Agenten. Ziele: "
                + "; ".join(f"{t.key} = {t.label} {t.description}".strip() for t in agents),
                _enum_schema("target", [t.key for t in agents], "Schlüssel des Ziels"),
            ))
        numbers = self.number_targets()
        if "transfer" in kinds and numbers:
            specs.append(ToolSpec(
                "transfer",
                "Verbindet den Anrufer mit einer hinterlegten Rufnummer. Ziele: "
                + "; ".join(f"{t.key} = {t.label} {t.description}".strip() for t in numbers),
                _enum_schema("target", [t.key for t in numbers], "Schlüssel des Ziels"),
            ))
        if "end_call" in kinds:
            specs.append(ToolSpec(
                "end_call", "Beendet das Gespräch, nachdem du dich verabschiedet hast.",
                {"type": "object", "properties": {"reason": {"type": "string"}}},
            ))
        if "knowledge_lookup" in kinds and self.knowledge is not None:
            specs.append(ToolSpec(
                "knowledge_lookup", "Sucht in den Dokumenten des Unternehmens.",
                {"type": "object", "properties": {"query": {"type": "string"}},
                 "required": ["query"]},
            ))
        if "webhook" in kinds and self.webhooks:
            schema = _enum_schema("hook", [h.key for h in self.webhooks], "Schlüssel")
            schema["properties"]["data"] = {"type": "object"}
            specs.append(ToolSpec(
                "webhook",
                "Sendet Daten an ein hinterlegtes System. Systeme: "
                + "; ".join(f"{h.key} = {h.label} {h.description}".strip()
                            for h in self.webhooks),
                schema,
            ))
        return specs

    # ------------------------------------------------------------------ execution
    def dispatch(self, call: ToolCall) -> ToolOutcome:
        """Run one tool call, refusing anything not configured for this agent."""
        offered = {s.name for s in self.specs()}
        args = call.arguments if isinstance(call.arguments, dict) else {}
        if call.name not in offered:
            return self._refuse(ToolCall(str(call.name), args),
                                f"Unbekanntes Werkzeug '{call.name}'. Verfügbar: "
                                      + ", ".join(sorted(offered)))
        if call.name == "handover":
            return self.handover(args.get("target"), arguments=args)
        if call.name == "transfer":
            return self.transfer(args.get("target"), arguments=args)
        if call.name == "end_call":
            reason = str(args.get("reason") or "")[:200]
            return ToolOutcome(ToolUsed("end_call", {"reason": reason}, "ok"), "ok",
                               terminal=EndCall(reason=reason or "agent"))
        if call.name == "knowledge_lookup":
            return self.lookup(args.get("query"))
        return self.webhook(args.get("hook"), args.get("data"))

    def find_target(self, key: Any) -> Target | None:
        """A configured target by key or by its exact label (case-insensitive)."""
        if not isinstance(key, str) or not key.strip():
            return None
        wanted = key.strip().lower()
        for target in self.targets:
            if target.key.lower() == wanted or target.label.lower() == wanted:
                return target
        return None

    def forward(self, target: Target) -> ToolOutcome:
        """Hand over or transfer to a configured target, whichever kind it is."""
        if target.kind == "agent":
            return self.handover(target.key, arguments={"target": target.key})
        return self.transfer(target.key, arguments={"target": target.key})

    def handover(self, key: Any, *, arguments: dict[str, Any]) -> ToolOutcome:
        target = self.find_target(key)
        if target is None or target.kind != "agent":
            return self._refuse(ToolCall("handover", arguments),
                                f"Kein konfiguriertes Agenten-Ziel '{key}'.")
        agent = self.directory.get(target.agent_id)
        if agent is None or agent.id == self.profile.id:
            return self._refuse(ToolCall("handover", arguments),
                                f"Der Agent für '{target.label}' existiert nicht mehr.")
        if not self.handover_allowed():
            return self._refuse(ToolCall("handover", arguments),
                                "In diesem Gespräch sind keine weiteren Übergaben möglich.")
        return ToolOutcome(ToolUsed("handover", {"target": target.key}, agent.name), "ok",
                           handover_to=agent)

    def transfer(self, key: Any, *, arguments: dict[str, Any]) -> ToolOutcome:
        target = self.find_target(key)
        if target is None or target.kind != "number":
            return self._refuse(ToolCall("transfer", arguments),
                                f"Keine konfigurierte Rufnummer '{key}'.")
        return ToolOutcome(ToolUsed("transfer", {"target": target.key}, target.label), "ok",
                           terminal=Transfer(number=target.number, label=target.label))

    def lookup(self, query: Any) -> ToolOutcome:
        if not isinstance(query, str) or not query.strip():
            return self._refuse(ToolCall("knowledge_lookup", {"query": query}),
                                "Argument 'query' fehlt.")
        assert self.knowledge is not None  # only offered with a knowledge base
        passages = self.knowledge.search(self.profile.id, query.strip(), k=3)
        if not passages:
            result = "Keine passenden Informationen gefunden."
        else:
            result = "\n\n".join(f"[{p.source}] {p.text}" for p in passages)
        return ToolOutcome(ToolUsed("knowledge_lookup", {"query": query.strip()[:200]},
                                    f"{len(passages)} Treffer"), result[:MAX_TOOL_RESULT])

    def webhook(self, key: Any, data: Any) -> ToolOutcome:
        hook = next((h for h in self.webhooks if isinstance(key, str) and h.key == key), None)
        call = ToolCall("webhook", {"hook": key})
        if hook is None:
            return self._refuse(call, f"Kein konfigurierter Webhook '{key}'.")
        return self.post(hook, data if isinstance(data, dict) else {})

    def post(self, hook: Webhook, data: dict[str, Any]) -> ToolOutcome:
        """POST ``data`` as JSON to the configured URL, within the webhook timeout."""
        body = json.dumps({"agent": self.profile.name, "hook": hook.key, "data": data},
                          ensure_ascii=False, default=str)
        used_args = {"hook": hook.key}
        if len(body.encode()) > MAX_WEBHOOK_PAYLOAD:
            return self._refuse(ToolCall("webhook", used_args), "Daten zu groß.")
        try:
            response = requests.post(hook.url, data=body.encode(), timeout=self.webhook_timeout_s,
                                     headers={"Content-Type": "application/json"},
                                     allow_redirects=False)
        except requests.Timeout:
            log.warning("webhook %s timed out after %.1f s", hook.key, self.webhook_timeout_s)
            return self._refuse(ToolCall("webhook", used_args), "Zeitüberschreitung.")
        except requests.RequestException as exc:
            log.warning("webhook %s failed: %s", hook.key, exc)
            return self._refuse(ToolCall("webhook", used_args), "Nicht erreichbar.")
        ok = 200 <= response.status_code < 300
        result = f"HTTP {response.status_code}"
        answer = response.text[:MAX_TOOL_RESULT] if ok else ""
        return ToolOutcome(ToolUsed("webhook", used_args, result, ok=ok),
                           f"{result} {answer}".strip())

    def _refuse(self, call: ToolCall, why: str) -> ToolOutcome:
        log.info("agent %s: tool %s refused: %s", self.profile.id, call.name, why)
        safe_args = {k: str(v)[:100] for k, v in (call.arguments or {}).items()}
        return ToolOutcome(ToolUsed(call.name[:60], safe_args, why, ok=False), why)


def _enum_schema(name: str, keys: list[str], description: str) -> dict[str, Any]:
    return {"type": "object",
            "properties": {name: {"type": "string", "enum": keys, "description": description}},
            "required": [name]}
