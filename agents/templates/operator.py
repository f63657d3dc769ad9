"""Operator-Bot: recognises the caller's concern in a short dialog and forwards to a target."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from agents.actions import Action, AgentProfile, EndCall
from agents.context import TurnContext
from agents.directory import AgentDirectory
from agents.keywords import best_match, is_goodbye, wants_human
from agents.llm import ask_structured
from agents.phrases import join_options
from agents.prompts import common_rules
from agents.routing import forward_to, give_up
from agents.templates.base import Parameter, Target, Template

PARAMETERS = (
    Parameter("greeting", "Begrüßung", "text",
              help="Der erste Satz des Agenten, z. B. „Praxis Dr. Sommer, guten Tag! Wie kann "
                   "ich Ihnen helfen?“ Leer: eine allgemeine Begrüßung."),
    Parameter("targets", "Weiterleitungsziele", "targets", required=True,
              help="Wohin der Agent verbinden darf: Rufnummern oder andere Agenten, je mit "
                   "Stichworten, an denen das Anliegen erkannt wird."),
    Parameter("default_target", "Standardziel", "target_key", required=True,
              help="Wohin verbunden wird, wenn das Anliegen nach den Rückfragen unklar bleibt."),
    Parameter("max_followups", "Maximale Rückfragen", "number", default=2, minimum=0, maximum=5,
              help="Wie oft der Agent nachfragt, bevor er zum Standardziel verbindet."),
    Parameter("followup_text", "Rückfrage", "text",
              help="Was der Agent fragt, wenn er das Anliegen nicht erkennt. Leer: „Worum geht "
                   "es bei Ihrem Anliegen, zum Beispiel …?“ mit den Zielen."),
    Parameter("instructions", "Zusätzliche Anweisungen", "long_text",
              help="Hinweise für die KI, z. B. welche Anliegen wohin gehören."),
)


@dataclass
class OperatorBot(Template):
    key: str = "operator"
    label: str = "Operator-Bot"
    description: str = ("Begrüßt, erkennt das Anliegen in einem kurzen Dialog und verbindet mit "
                        "dem passenden Ziel (Rufnummer oder Agent).")
    parameters: tuple[Parameter, ...] = PARAMETERS
    tool_kinds: tuple[str, ...] = field(default=("handover", "transfer"))

    def check(self, params: dict[str, Any]) -> dict[str, str]:
        keys = {t.key for t in self.targets(AgentProfile(0, "", self.key, params))}
        default = params.get("default_target")
        if default and default not in keys:
            return {"default_target": "Das Standardziel ist keines der Weiterleitungsziele"}
        return {}

    def default_target(self, profile: AgentProfile) -> Target | None:
        key = profile.params.get("default_target")
        return next((t for t in self.targets(profile) if t.key == key), None)

    def system_prompt(self, profile: AgentProfile, directory: AgentDirectory) -> str:
        default = self.default_target(profile)
        en = profile.language == "en"
        lines = [
            f"Du bist „{profile.name}“, der telefonische Empfang. Finde in einem kurzen Gespräch "
            "heraus, worum es dem Anrufer geht, und leite ihn an das passende Ziel weiter.",
            "Ziele (nur diese gibt es):",
        ]
        for t in self.targets(profile):
            words = f" (Stichworte: {', '.join(t.keywords)})" if t.keywords else ""
            lines.append(f"- {t.key}: {t.label}{' – ' + t.description if t.description else ''}"
                         f"{words}")
        if default is not None:
            lines.append(f"Wenn kein Ziel passt, ist das Standardziel „{default.key}“.")
        lines += [
            "Antworte immer als JSON-Objekt: {\"reply\": ein kurzer Satz an den Anrufer, "
            "\"action\": \"ask\" (Rückfrage) | \"forward\" (weiterleiten) | \"end\" (Gespräch "
            "beenden), \"target\": Schlüssel des Ziels oder \"none\"}.",
            "Bei \"forward\" kündigt \"reply\" die Weiterleitung an; bei \"ask\" ist \"reply\" "
            "die Rückfrage.",
            common_rules(profile, english=en),
        ]
        if profile.params.get("instructions"):
            extra = profile.params["instructions"]
            lines.append(f"Zusätzliche Anweisungen des Unternehmens: {extra}")
        return "\n".join(lines)

    def decision_schema(self, profile: AgentProfile) -> dict[str, Any]:
        keys = [t.key for t in self.targets(profile)]
        return {
            "type": "object",
            "properties": {
                "reply": {"type": "string", "maxLength": 400},
                "action": {"type": "string", "enum": ["ask", "forward", "end"]},
                "target": {"type": "string", "enum": [*keys, "none"]},
            },
            "required": ["reply", "action", "target"],
        }

    # ------------------------------------------------------------------ turns
    def respond(self, ctx: TurnContext, text: str) -> Iterator[Action]:
        assert ctx.llm is not None
        profile = ctx.profile

        def check(data: dict[str, Any]) -> str | None:
            if data["action"] == "forward" and data["target"] == "none":
                return "bei action=forward muss target ein Ziel sein"
            return None

        result = yield from ask_structured(
            ctx.llm, ctx.messages(self.system_prompt(profile, ctx.directory)),
            self.decision_schema(profile), check=check,
        )
        ctx.record_assistant()
        default = self.default_target(profile)
        if result.data is None:  # announce even if a garbled reply was half spoken
            yield from self._to_default(ctx, spoken=False)
            return
        action, reply = result.data["action"], result.data["reply"].strip()
        if action == "forward":
            target = ctx.toolbox.find_target(result.data["target"])
            assert target is not None  # the schema's enum holds only configured keys
            yield from forward_to(ctx, target, spoken=result.spoken, default=default)
        elif action == "end":
            if not result.spoken:
                yield from ctx.say(ctx.phrase("goodbye"))
            yield EndCall(reason="agent")
        else:
            yield from self._ask_again(ctx, spoken=result.spoken, reply=reply)

    def respond_offline(self, ctx: TurnContext, text: str) -> Iterator[Action]:
        targets = self.targets(ctx.profile)
        candidates = {t.key: (*t.keywords, t.label) for t in targets}
        match = best_match(text, candidates, ctx.language)
        if match is not None:
            target = next(t for t in targets if t.key == match.key)
            yield from forward_to(ctx, target, default=self.default_target(ctx.profile))
            return
        if wants_human(text):  # no more questions: the default target is where people are
            yield from self._to_default(ctx, spoken=False)
            return
        if is_goodbye(text):  # "Danke, tschüss": the caller is done, no follow-up question
            yield from ctx.say(ctx.phrase("goodbye"))
            yield EndCall(reason="anrufer")
            return
        yield from self._ask_again(ctx, spoken=False, reply="")

    def _ask_again(self, ctx: TurnContext, *, spoken: bool, reply: str) -> Iterator[Action]:
        """A follow-up question, unless "maximale Rückfragen" are used up."""
        ctx.state["followups"] = ctx.state.get("followups", 0) + 1
        try:
            limit = int(self.value(ctx.profile, "max_followups") or 0)
        except (TypeError, ValueError):  # a broken value: no follow-up questions
            limit = 0
        if ctx.state["followups"] > limit:
            yield from self._to_default(ctx, spoken=False)
            return
        if spoken:
            return
        question = reply or str(ctx.profile.params.get("followup_text") or "")
        if not question:
            labels = [t.label for t in self.targets(ctx.profile)]
            question = ctx.phrase("ask_concern", options=join_options(labels,
                                                                      language=ctx.language))
        yield from ctx.say(question)

    def _to_default(self, ctx: TurnContext, *, spoken: bool) -> Iterator[Action]:
        default = self.default_target(ctx.profile)
        if default is None:
            yield from give_up(ctx, spoken=spoken)
            return
        yield from forward_to(ctx, default, spoken=spoken, announce="forward_default")
