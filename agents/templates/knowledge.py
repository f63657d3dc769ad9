"""Wissen: answers from the documents the customer uploaded, and says so when it does not know."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from agents.actions import Action, AgentProfile, EndCall
from agents.context import TurnContext
from agents.directory import AgentDirectory
from agents.keywords import best_match, is_goodbye, stems, wants_human
from agents.knowledge.retrieval import Passage
from agents.llm import tool_loop
from agents.phrases import phrase
from agents.prompts import common_rules
from agents.routing import forward_to, give_up
from agents.sentences import split_sentences
from agents.templates.base import Parameter, Template

PARAMETERS = (
    Parameter("greeting", "Begrüßung", "text",
              help="Z. B. „Praxis Dr. Sommer, Infotelefon. Was möchten Sie wissen?“"),
    Parameter("topic", "Themengebiet", "long_text",
              help="Worüber der Agent Auskunft gibt, z. B. „Öffnungszeiten, Leistungen und "
                   "Preise der Praxis“. Die Antworten kommen aus den hochgeladenen Dokumenten."),
    Parameter("unknown_answer", "Antwort, wenn nichts bekannt ist", "text",
              help="Leer: „Das weiß ich leider nicht.“"),
    Parameter("targets", "Weiterleitungsziele", "targets",
              help="Optional: wohin der Agent verbinden darf, wenn der Anrufer einen Menschen "
                   "sprechen möchte."),
    Parameter("webhooks", "Webhooks", "webhooks",
              help="Optional: Systeme, an die der Agent Daten senden darf."),
)
PASSAGES = 3
SPOKEN_SENTENCES = 2  # keyword mode reads at most this many sentences of the best passage


@dataclass
class KnowledgeAgent(Template):
    key: str = "knowledge"
    label: str = "Wissen"
    description: str = ("Beantwortet Fragen aus hochgeladenen Dokumenten (PDF, DOCX, TXT, "
                        "Markdown) und sagt ehrlich, wenn es etwas nicht weiß.")
    parameters: tuple[Parameter, ...] = PARAMETERS
    tool_kinds: tuple[str, ...] = field(default=(
        "knowledge_lookup", "handover", "transfer", "end_call", "webhook"))

    def system_prompt(self, profile: AgentProfile, directory: AgentDirectory,
                      passages: list[Passage] | None = None) -> str:
        topic = str(profile.params.get("topic") or "")
        lines = [
            f"Du bist „{profile.name}“ und beantwortest Fragen von Anrufern am Telefon"
            + (f" zu: {topic}." if topic else "."),
            "Antworte nur mit Angaben aus den Auszügen unten oder aus dem Werkzeug "
            "knowledge_lookup. Steht die Antwort dort nicht, sag ehrlich, dass du es nicht weißt "
            f"(„{self._unknown(profile)}“), und rate nicht.",
        ]
        if passages:
            lines.append("Auszüge aus den Dokumenten:")
            lines += [f"[{p.source}] {p.text}" for p in passages]
        elif passages is not None:
            lines.append("Zu dieser Frage wurde in den Dokumenten nichts gefunden.")
        lines.append("Wenn sich der Anrufer verabschiedet, verabschiede dich und rufe end_call.")
        lines.append(common_rules(profile, english=profile.language == "en"))
        return "\n".join(lines)

    def _unknown(self, profile: AgentProfile) -> str:
        return str(profile.params.get("unknown_answer") or "") or phrase(
            "dont_know", language=profile.language, form=profile.form_of_address)

    def _search(self, ctx: TurnContext, text: str, k: int, *, strict: bool = False
                ) -> list[Passage]:
        if ctx.knowledge is None:
            return []
        return ctx.knowledge.search(ctx.profile.id, text, k=k, strict=strict)

    def respond(self, ctx: TurnContext, text: str) -> Iterator[Action]:
        passages = self._search(ctx, text, PASSAGES)
        yield from tool_loop(ctx, self.system_prompt(ctx.profile, ctx.directory, passages))

    def respond_offline(self, ctx: TurnContext, text: str) -> Iterator[Action]:
        if is_goodbye(text):
            yield from ctx.say(ctx.phrase("goodbye"))
            yield EndCall(reason="agent")
            return
        targets = self.targets(ctx.profile)
        match = best_match(text, {t.key: t.keywords for t in targets if t.keywords},
                           ctx.language)
        if match is not None:
            target = next(t for t in targets if t.key == match.key)
            yield from forward_to(ctx, target)
            return
        if wants_human(text):
            people = [t for t in targets if t.kind == "number"]
            if people:
                yield from forward_to(ctx, people[0])
            else:
                yield from give_up(ctx)  # the customer's fallback number
            return
        passages = self._search(ctx, text, 1, strict=True)  # read out verbatim
        if not passages:
            yield from ctx.say(self._unknown(ctx.profile))
        else:
            yield from ctx.say(best_sentences(spoken_text(passages[0].text), text,
                                              ctx.language))
        yield from ctx.say(ctx.phrase("anything_else"))


def spoken_text(passage: str) -> str:
    """A passage without its Markdown heading lines (TTS would read "Raute Raute")."""
    body = [line for line in passage.split("\n") if not line.lstrip().startswith("#")]
    return re.sub(r"#+\s*", "", " ".join(body) or passage).strip()


def best_sentences(passage: str, question: str, language: str = "de",
                   limit: int = SPOKEN_SENTENCES) -> str:
    """The passage's sentences that share most words with the question, in their order."""
    sentences = split_sentences(passage)
    if len(sentences) <= limit:
        return " ".join(sentences)
    wanted = set(stems(question, language))
    scores = [_relevance(wanted, set(stems(sentence, language))) for sentence in sentences]
    ranked = sorted(range(len(sentences)), key=lambda i: scores[i], reverse=True)[:limit]
    return " ".join(sentences[i] for i in sorted(ranked))


def _relevance(wanted: set[str], words: set[str]) -> float:
    """Question stems found in a sentence; a stem that begins a compound counts almost fully
    ("parken" → "Parkhaus", "Parkplätze")."""
    return sum(1.0 if w in words else
               0.9 if len(w) >= 4 and any(x.startswith(w) for x in words) else 0.0
               for w in wanted)
