"""One Conversation per call: runs the current agent turn by turn and turns it into actions.

The call path feeds it the caller's utterances and carries out the actions it yields: `Say`
per sentence as the LLM streams, `ToolUsed` for the timeline, and at most one of `HandOver`
(followed by the new agent's greeting), `Transfer`, `EndCall` per turn.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from agents.actions import Action, AgentProfile, EndCall, HandOver, Say, ToolUsed, Transfer
from agents.context import TurnContext
from agents.directory import AgentDirectory
from agents.routing import give_up
from agents.summary import CallSummary, summarize_call
from agents.templates import TEMPLATES
from agents.tools import ToolBox
from media.engines import ChatMessage, EngineError, LanguageModel

log = logging.getLogger(__name__)

MAX_UTTERANCE_CHARS = 2000  # a longer utterance keeps its beginning and its end
MAX_SILENT_TURNS = 3  # empty transcripts in a row before the agent says goodbye


class Conversation:
    """The dialog of one call. ``agent`` changes on handover; ``history`` carries over.

    The history keeps the whole call (each utterance clipped to MAX_UTTERANCE_CHARS); what
    the model gets of it is bounded once, in tokens, by ``media.llm.context.fit_messages``."""

    def __init__(self, agent: AgentProfile, directory: AgentDirectory,
                 llm: LanguageModel | None, *, knowledge: Any = None, max_handovers: int = 3,
                 webhook_timeout_s: float = 5.0):
        self.agent = agent
        self.directory = directory
        self.llm = llm
        self.knowledge = knowledge
        self.max_handovers = max_handovers
        self.webhook_timeout_s = webhook_timeout_s
        self.history: list[ChatMessage] = []
        self.handovers = 0
        self.llm_failed = False
        self.ended = False
        self.facts: dict[str, str] = {}  # what the agents learned, for the summary
        self.outcome = ""  # how the call left the agents, for the summary
        self._state: dict[str, Any] = {}
        self._silent_turns = 0

    @property
    def keyword_mode(self) -> bool:
        """True when turns run without an LLM (none configured, or it failed in this call)."""
        return self.llm is None or self.llm_failed

    # ------------------------------------------------------------------ the call path's API
    def greet(self) -> Iterator[Action]:
        """The current agent's greeting."""
        ctx = self._context()
        template = TEMPLATES.get(self.agent.template)
        if template is None:
            yield from self._run(self._unknown_template(ctx), ctx)
            return
        yield from self._run(template.greet(ctx), ctx)

    def on_caller(self, text: str) -> Iterator[Action]:
        """One caller utterance in, the agent's reaction out."""
        if self.ended:
            return
        text = _clip(" ".join((text or "").split()))
        ctx = self._context()
        if not text:  # neither the silence nor the reprompt goes into the LLM's context
            yield from self._run(self._silence(ctx), ctx, record=False)
            return
        self._silent_turns = 0
        self.history.append(ChatMessage("user", text))
        template = TEMPLATES.get(self.agent.template)
        if template is None:
            yield from self._run(self._unknown_template(ctx), ctx)
            return
        if not self.keyword_mode:
            try:
                yield from self._run(template.respond(ctx, text), ctx)
                return
            except EngineError as exc:
                log.warning("agent %s: LLM failed, keyword mode for the rest of the call: %s",
                            self.agent.id, exc)
                self.llm_failed = True
                ctx.record_assistant()
                yield ToolUsed("keyword_mode", {}, f"LLM nicht verfügbar: {exc}"[:300], ok=False)
                if self.ended:
                    return
        yield from self._run(template.respond_offline(ctx, text), ctx)

    def on_interrupted(self, spoken_text: str) -> None:
        """Barge-in: the reply was cut off; the history keeps only what the caller heard."""
        last_user = max((i for i, m in enumerate(self.history) if m.role == "user"), default=-1)
        kept: list[ChatMessage] = []
        for msg in self.history[last_user + 1:]:
            if msg.role == "assistant":
                if msg.tool_calls:
                    kept.append(ChatMessage("assistant", "", tool_calls=msg.tool_calls))
                continue
            kept.append(msg)
        spoken = " ".join(spoken_text.split())
        if spoken:
            kept.append(ChatMessage("assistant", spoken + " …"))
        self.history[last_user + 1:] = kept

    def summarize(self, transcript: list[tuple[str, str]], tag_choices: list[str]
                  ) -> CallSummary:
        """Summary, tags and caller name after the call (a flagged extract without an LLM)."""
        llm = None if self.keyword_mode else self.llm
        return summarize_call(llm, transcript, tag_choices, facts=self.facts,
                              outcome=self.outcome)

    # ------------------------------------------------------------------ internals
    def _context(self) -> TurnContext:
        template = TEMPLATES.get(self.agent.template)
        toolbox = ToolBox(
            self.agent, template or TEMPLATES["operator"], self.directory,
            knowledge=self.knowledge, webhook_timeout_s=self.webhook_timeout_s,
            handover_allowed=lambda: self.handovers < self.max_handovers,
        )
        return TurnContext(
            profile=self.agent, directory=self.directory,
            llm=None if self.keyword_mode else self.llm, history=self.history,
            state=self._state, toolbox=toolbox, knowledge=self.knowledge, facts=self.facts,
        )

    def _run(self, actions: Iterator[Action], ctx: TurnContext, *, record: bool = True
             ) -> Iterator[Action]:
        """Pass the template's actions on; stop after the first HandOver/Transfer/EndCall."""
        try:
            for action in actions:
                if isinstance(action, Say):
                    if not action.text.strip():
                        continue
                    ctx.said.append(action.text)
                    ctx.unrecorded.append(action.text)
                    yield action
                elif isinstance(action, HandOver):
                    ctx.record_assistant()
                    yield from self._handover(action, ctx)
                    return
                elif isinstance(action, Transfer | EndCall):
                    if record:
                        ctx.record_assistant()
                    self.ended = True
                    self.outcome = (f"Weiterverbunden mit {action.label or action.number}."
                                    if isinstance(action, Transfer) else "Gespräch beendet.")
                    yield action
                    return
                else:
                    yield action
        finally:
            if not record:
                ctx.unrecorded.clear()
            ctx.record_assistant()

    def _handover(self, action: HandOver, ctx: TurnContext) -> Iterator[Action]:
        target = self.directory.get(action.to.id)
        if target is None or self.handovers >= self.max_handovers or target.id == self.agent.id:
            why = ("Agent existiert nicht mehr" if target is None
                   else "Höchstzahl an Übergaben erreicht")
            log.warning("agent %s: handover to %s refused: %s", self.agent.id, action.to.id, why)
            yield ToolUsed("handover", {"target": action.to.name}, why, ok=False)
            yield from self._run(give_up(ctx, spoken=bool(ctx.said)), ctx)
            return
        self.handovers += 1
        previous = self.agent
        self.agent = target
        self._state = {}
        self.outcome = f"Übergeben an {target.name}."
        self.history.append(ChatMessage(
            "system", f"Das Gespräch wurde von „{previous.name}“ an dich („{target.name}“) "
                      "übergeben. Der bisherige Verlauf steht oben."))
        yield HandOver(previous, target, reason=action.reason)
        new_ctx = self._context()
        template = TEMPLATES.get(target.template)
        greeting = template.greet(new_ctx) if template else self._unknown_template(new_ctx)
        yield from self._run(greeting, new_ctx)

    def _silence(self, ctx: TurnContext) -> Iterator[Action]:
        """An empty transcript: ask again; after MAX_SILENT_TURNS say goodbye and hang up."""
        self._silent_turns += 1
        if self._silent_turns >= MAX_SILENT_TURNS:
            yield from ctx.say(ctx.phrase("goodbye"))
            yield EndCall(reason="stille")
            return
        yield from ctx.say(ctx.phrase("not_understood"))

    def _unknown_template(self, ctx: TurnContext) -> Iterator[Action]:
        log.error("agent %s has unknown template %r", self.agent.id, self.agent.template)
        yield from give_up(ctx)


def _clip(text: str) -> str:
    if len(text) <= MAX_UTTERANCE_CHARS:
        return text
    head = MAX_UTTERANCE_CHARS // 4
    tail = MAX_UTTERANCE_CHARS - head
    cut_head = re.sub(r"\s+\S*$", "", text[:head])
    cut_tail = re.sub(r"^\S*\s+", "", text[-tail:])
    return f"{cut_head} … {cut_tail}"
