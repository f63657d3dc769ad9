"""Working through fixed steps (questions), shared by Smart Voicemail and Workflow-Bot.

Each step's answer is taken from what the caller says: with an LLM, one structured extraction
per turn fills every step the caller answered (a natural dialog: "Hier ist Anna Berger, bitte
um Rückruf unter …" fills two at once); without one, the answer to the current question is
taken as it is. A phone number is read back digit by digit and must be confirmed. The flow
ends with an optional confirmation of everything, the closing words and a hangup.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Generator, Iterator
from typing import Any

from agents.actions import Action, AgentProfile, EndCall
from agents.context import TurnContext
from agents.keywords import best_match, is_goodbye, wants_human, yes_or_no
from agents.llm import ask_structured
from agents.numbers import digits_from_speech
from agents.phrases import speak_digits
from agents.prompts import common_rules
from agents.summary import find_caller_name
from agents.templates.base import Step, Template
from models.phone import is_phone_number

MAX_ANSWER_CHARS = 1000
FACT_KEYS = {"name": "name", "phone_number": "callback"}  # step kind -> summary fact
_FILLER = re.compile(r"^(?:(?:ja|also|ähm|äh|hm|hallo|gerne|gern|ok|okay|klar)[\s,.!]+)+",
                     re.IGNORECASE)


_NAME_TAIL = {"hier", "am", "apparat", "telefon", "dran", "spricht", "here", "speaking"}


class SlotTemplate(Template):
    """A template whose conversation is a list of steps (see `Step`)."""

    @abstractmethod
    def steps(self, profile: AgentProfile) -> list[Step]:
        """The questions this agent asks, in order."""

    def confirm_all(self, profile: AgentProfile) -> bool:
        return False

    def closing(self, ctx: TurnContext) -> str:
        return str(ctx.profile.params.get("closing") or "") or ctx.phrase("message_taken")

    def on_complete(self, ctx: TurnContext, answers: dict[str, str]) -> Iterator[Action]:
        """Hook before the closing words (Workflow-Bot posts to its webhook here)."""
        return iter(())

    # ------------------------------------------------------------------ prompts
    def system_prompt(self, profile: AgentProfile, directory: Any) -> str:
        steps = self.steps(profile)
        fields = "; ".join(f"{s.key}: {s.question}" for s in steps)
        return "\n".join([
            f"Du bist „{profile.name}“ am Telefon und nimmst Angaben des Anrufers auf.",
            "Lies aus der letzten Äußerung des Anrufers (und dem Verlauf) die Antworten auf diese "
            f"Fragen heraus: {fields}.",
            "Antworte als JSON-Objekt mit genau diesen Schlüsseln. Eine Frage, die der Anrufer "
            "nicht beantwortet hat, bekommt einen leeren Text. Rufnummern nur als Ziffern. "
            "Erfinde keine Angaben.",
            common_rules(profile, english=profile.language == "en"),
        ])

    def extraction_schema(self, steps: list[Step]) -> dict[str, Any]:
        return {"type": "object",
                "properties": {s.key: {"type": "string", "maxLength": MAX_ANSWER_CHARS}
                               for s in steps},
                "required": [s.key for s in steps]}

    # ------------------------------------------------------------------ the flow
    def greet(self, ctx: TurnContext) -> Iterator[Action]:
        yield from ctx.say(self.greeting(ctx.profile) or ctx.phrase("greeting"))
        yield from self._ask_next(ctx)

    def respond(self, ctx: TurnContext, text: str) -> Iterator[Action]:
        assert ctx.llm is not None
        flow = _flow(ctx)
        if flow["phase"] == "ask" and (yield from self._not_an_answer(ctx, text)):
            return
        if flow["phase"] == "ask":
            steps = self.steps(ctx.profile)
            gen = ask_structured(
                ctx.llm, ctx.messages(self.system_prompt(ctx.profile, ctx.directory)),
                self.extraction_schema(steps), speak_field="__nothing__")
            result = yield from gen
            if result.data is not None:
                first = self._current(ctx)
                for step in steps:
                    value = str(result.data.get(step.key) or "").strip()
                    if value and step.key not in flow["answers"] and step.kind != "phone_number":
                        self._store(ctx, step, value)
                if first is not None and first.kind != "phone_number" \
                        and first.key not in flow["answers"]:
                    self._store(ctx, first, _answer(first, text))  # nothing extracted: as said
                current = self._current(ctx)
                if current is not None and current.kind == "phone_number":
                    said = str(result.data.get(current.key) or "")
                    heard = said if is_phone_number(digits_from_speech(said)) else text
                    if first is current or is_phone_number(digits_from_speech(heard)):
                        yield from self._take_number(ctx, heard)
                        return
                yield from self._ask_next(ctx)
                return
        yield from self.respond_offline(ctx, text)

    def respond_offline(self, ctx: TurnContext, text: str) -> Iterator[Action]:
        flow = _flow(ctx)
        phase = flow["phase"]
        if phase == "confirm_number":
            yield from self._confirm_number(ctx, text)
        elif phase == "confirm_all":
            yield from self._confirm_all(ctx, text)
        elif phase == "fix":
            yield from self._fix(ctx, text)
        elif (yield from self._not_an_answer(ctx, text)):
            return
        else:
            step = self._current(ctx)
            if step is None:
                yield from self._ask_next(ctx)
            elif step.kind == "phone_number":
                yield from self._take_number(ctx, text)
            else:
                self._store(ctx, step, _answer(step, text))
                yield from self._ask_next(ctx)

    def _not_an_answer(self, ctx: TurnContext, text: str) -> Generator[Action, None, bool]:
        """A request for a person or a bare goodbye is not stored as an answer: the first gets
        an explanation and the question again, the second ends the call politely."""
        if wants_human(text):
            yield from ctx.say(ctx.phrase("nobody_available"))
            step = self._current(ctx)
            if step is not None:
                yield from ctx.say(step.question)
            return True
        if is_goodbye(text) and len(text.split()) <= 4:
            answers = _flow(ctx)["answers"]
            yield from ctx.say(self.closing(ctx) if answers else ctx.phrase("goodbye"))
            yield EndCall(reason="anrufer")
            return True
        return False

    def _current(self, ctx: TurnContext) -> Step | None:
        answers = _flow(ctx)["answers"]
        return next((s for s in self.steps(ctx.profile) if s.key not in answers), None)

    def _store(self, ctx: TurnContext, step: Step, value: str) -> None:
        value = " ".join(value.split())[:MAX_ANSWER_CHARS]
        _flow(ctx)["answers"][step.key] = value
        ctx.facts[FACT_KEYS.get(step.kind, step.key)] = value

    def _ask_next(self, ctx: TurnContext) -> Iterator[Action]:
        flow = _flow(ctx)
        step = self._current(ctx)
        if step is not None:
            flow["phase"] = "ask"
            yield from ctx.say(step.question)
            return
        if self.confirm_all(ctx.profile) and not flow.get("confirmed"):
            flow["phase"] = "confirm_all"
            summary = "; ".join(f"{s.key.replace('_', ' ')}: {flow['answers'][s.key]}"
                                for s in self.steps(ctx.profile) if flow["answers"].get(s.key))
            yield from ctx.say(ctx.phrase("confirm_summary", summary=summary))
            return
        yield from self.on_complete(ctx, dict(flow["answers"]))
        yield from ctx.say(self.closing(ctx))
        yield EndCall(reason="erledigt")

    def _take_number(self, ctx: TurnContext, text: str) -> Iterator[Action]:
        digits = digits_from_speech(text)
        if not is_phone_number(digits):
            yield from ctx.say(ctx.phrase("no_number_heard"))
            return
        flow = _flow(ctx)
        flow["pending_number"], flow["phase"] = digits, "confirm_number"
        yield from ctx.say(ctx.phrase("confirm_number",
                                      digits=speak_digits(digits, language=ctx.language)))

    def _confirm_number(self, ctx: TurnContext, text: str) -> Iterator[Action]:
        answer = yes_or_no(text)
        flow = _flow(ctx)
        step = self._current(ctx)
        if answer is True and step is not None:
            self._store(ctx, step, flow.pop("pending_number"))
            yield from self._ask_next(ctx)
        elif is_phone_number(digits_from_speech(text)):
            yield from self._take_number(ctx, text)  # a corrected number right away
        elif answer is False:
            flow["phase"] = "ask"
            yield from ctx.say(ctx.phrase("number_again"))
        else:
            yield from ctx.say(ctx.phrase("confirm_number", digits=speak_digits(
                flow["pending_number"], language=ctx.language)))

    def _confirm_all(self, ctx: TurnContext, text: str) -> Iterator[Action]:
        answer = yes_or_no(text)
        flow = _flow(ctx)
        if answer is True:
            flow["confirmed"] = True
            yield from self._ask_next(ctx)
        elif answer is False:
            flow["phase"] = "fix"
            yield from ctx.say(ctx.phrase("what_to_fix"))
        else:
            yield from ctx.say(ctx.phrase("not_understood"))

    def _fix(self, ctx: TurnContext, text: str) -> Iterator[Action]:
        """Ask again the step the caller names; if none is recognisable, all of them."""
        steps = self.steps(ctx.profile)
        candidates = {s.key: (s.key.replace("_", " "), s.question) for s in steps}
        match = best_match(text, candidates, ctx.language)
        answers = _flow(ctx)["answers"]
        for step in steps:
            if match is None or step.key == match.key:
                answers.pop(step.key, None)
        yield from self._ask_next(ctx)


def _flow(ctx: TurnContext) -> dict[str, Any]:
    return ctx.state.setdefault("flow", {"phase": "ask", "answers": {}})


def _answer(step: Step, text: str) -> str:
    if step.kind == "name":
        named = find_caller_name(text)
        if named:
            return named
        words = _FILLER.sub("", text).strip(" .,!?").split()
        while words and words[-1].lower().strip(".,!") in _NAME_TAIL:
            words.pop()
        return " ".join(words[:5])
    return text
