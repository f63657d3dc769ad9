"""Smart Voicemail: takes a message (name, callback number, concern), reads the number back
digit by digit, ends politely."""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.actions import AgentProfile
from agents.phrases import phrase
from agents.templates.base import Parameter, Step
from agents.templates.slots import SlotTemplate

PARAMETERS = (
    Parameter("greeting", "Begrüßung", "text",
              default="",
              help="Z. B. „Praxis Dr. Sommer, wir sind gerade nicht erreichbar. Ich nehme gern "
                   "Ihre Nachricht auf.“ Danach fragt der Agent nach dem Namen."),
    Parameter("ask_name", "Frage nach dem Namen", "text",
              help="Leer: „Wie ist Ihr Name, bitte?“"),
    Parameter("ask_callback", "Frage nach der Rückrufnummer", "text",
              help="Leer: „Unter welcher Nummer können wir Sie zurückrufen?“"),
    Parameter("ask_message", "Frage nach dem Anliegen", "text",
              help="Leer: „Was möchten Sie uns mitteilen?“"),
    Parameter("closing", "Verabschiedung", "text",
              help="Leer: „Vielen Dank, ich habe Ihre Nachricht notiert. Wir melden uns bei "
                   "Ihnen. Auf Wiederhören!“"),
)


@dataclass
class SmartVoicemail(SlotTemplate):
    key: str = "voicemail"
    label: str = "Smart Voicemail"
    description: str = ("Nimmt im Gespräch eine Nachricht auf (Name, Rückrufnummer, Anliegen), "
                        "liest die Nummer Ziffer für Ziffer zurück und verabschiedet sich.")
    parameters: tuple[Parameter, ...] = PARAMETERS
    tool_kinds: tuple[str, ...] = field(default=())

    def steps(self, profile: AgentProfile) -> list[Step]:
        def ask(key: str, fallback: str) -> str:
            return str(profile.params.get(key) or "") or phrase(
                fallback, language=profile.language, form=profile.form_of_address)

        return [
            Step("name", ask("ask_name", "ask_name"), "name"),
            Step("rueckrufnummer", ask("ask_callback", "ask_callback"), "phone_number"),
            Step("anliegen", ask("ask_message", "ask_message"), "text"),
        ]

    def greeting(self, profile: AgentProfile) -> str:
        return str(profile.params.get("greeting") or "") or phrase(
            "voicemail_greeting", language=profile.language, form=profile.form_of_address)
