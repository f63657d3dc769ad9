"""Workflow-Bot: works through configured steps, confirms them, ends with a summary."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from agents.actions import Action, AgentProfile
from agents.context import TurnContext
from agents.templates.base import Parameter, Step, parse_steps
from agents.templates.slots import SlotTemplate

PARAMETERS = (
    Parameter("greeting", "Begrüßung", "text",
              help="Der erste Satz, danach stellt der Agent die erste Frage."),
    Parameter("steps", "Schritte", "steps", required=True,
              help="Die Fragen der Reihe nach, z. B. Name, Anliegen, Rückrufnummer, "
                   "Terminwunsch. Art „Rufnummer“ wird Ziffer für Ziffer bestätigt.",
              default=[
                  {"key": "name", "question": "Wie ist Ihr Name?", "kind": "name"},
                  {"key": "anliegen", "question": "Worum geht es?", "kind": "text"},
                  {"key": "rueckrufnummer",
                   "question": "Unter welcher Nummer erreichen wir Sie?",
                   "kind": "phone_number"},
              ]),
    Parameter("confirm", "Angaben bestätigen lassen", "boolean", default=True,
              help="Am Ende liest der Agent alle Angaben vor und fragt, ob sie stimmen."),
    Parameter("closing", "Verabschiedung", "text",
              help="Leer: „Vielen Dank, ich habe Ihre Nachricht notiert …“"),
    Parameter("webhooks", "Webhooks", "webhooks",
              help="Systeme, an die der Agent Daten senden darf (Name, URL)."),
    Parameter("result_webhook", "Ergebnis senden an", "text",
              help="Schlüssel eines Webhooks: dorthin gehen die Angaben am Ende (JSON-POST)."),
)


@dataclass
class WorkflowBot(SlotTemplate):
    key: str = "workflow"
    label: str = "Workflow-Bot"
    description: str = ("Arbeitet konfigurierte Schritte ab (z. B. Name, Anliegen, "
                        "Rückrufnummer, Terminwunsch), bestätigt sie und fasst zusammen.")
    parameters: tuple[Parameter, ...] = PARAMETERS
    tool_kinds: tuple[str, ...] = field(default=("webhook",))

    def steps(self, profile: AgentProfile) -> list[Step]:
        return parse_steps(self.value(profile, "steps"))

    def confirm_all(self, profile: AgentProfile) -> bool:
        return bool(self.value(profile, "confirm"))

    def check(self, params: dict[str, Any]) -> dict[str, str]:
        hook = params.get("result_webhook")
        profile = AgentProfile(0, "", self.key, params)
        if hook and hook not in {h.key for h in self.webhooks(profile)}:
            return {"result_webhook": "Kein Webhook mit diesem Schlüssel"}
        return {}

    def on_complete(self, ctx: TurnContext, answers: dict[str, str]) -> Iterator[Action]:
        key = ctx.profile.params.get("result_webhook")
        hook = next((h for h in self.webhooks(ctx.profile) if h.key == key), None)
        if hook is not None:
            yield ctx.toolbox.post(hook, answers).used
