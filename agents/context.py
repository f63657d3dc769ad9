"""What a template sees during one turn: the agent, the LLM, the history, its state, its tools."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agents.actions import Say
from agents.phrases import phrase
from agents.sentences import split_sentences
from media.engines import ChatMessage, LanguageModel, ToolCall

if TYPE_CHECKING:
    from agents.actions import AgentProfile
    from agents.directory import AgentDirectory
    from agents.knowledge.retrieval import KnowledgeBase
    from agents.tools import ToolBox


@dataclass
class TurnContext:
    """Built by the Conversation for each turn. ``llm`` is None in keyword mode."""

    profile: AgentProfile
    directory: AgentDirectory
    llm: LanguageModel | None
    history: list[ChatMessage]
    state: dict[str, Any]
    toolbox: ToolBox
    knowledge: KnowledgeBase | None = None
    # What the call learned for the summary (caller name, callback number, message …).
    facts: dict[str, str] = field(default_factory=dict)
    # Texts spoken this turn, and those not yet in the history (the Conversation fills both).
    said: list[str] = field(default_factory=list)
    unrecorded: list[str] = field(default_factory=list)

    @property
    def language(self) -> str:
        return self.profile.language

    def phrase(self, key: str, **values: Any) -> str:
        return phrase(key, language=self.profile.language, form=self.profile.form_of_address,
                      **values)

    def say(self, text: str) -> Iterator[Say]:
        """Speak a fixed text, sentence by sentence."""
        for sentence in split_sentences(text):
            yield Say(sentence)

    def record_assistant(self, tool_calls: tuple[ToolCall, ...] = ()) -> None:
        """Put what was said so far this turn (and the LLM's tool calls) into the history."""
        text = " ".join(self.unrecorded).strip()
        self.unrecorded.clear()
        if text or tool_calls:
            self.history.append(ChatMessage("assistant", text, tool_calls=tool_calls))

    def messages(self, system_prompt: str, *extra: ChatMessage) -> list[ChatMessage]:
        """System prompt + history + ``extra``: what the LLM is asked with."""
        return [ChatMessage("system", system_prompt), *self.history, *extra]
