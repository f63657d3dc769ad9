"""Talking to the LLM: streamed replies with tool calls, and structured output against a schema.

Helpers are generators that yield `Say` actions as sentences complete and *return* what the LLM
answered (use ``reply = yield from stream_reply(...)``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agents.actions import Action, EndCall, HandOver, Say, Transfer
from agents.schema import schema_errors
from agents.sentences import SentenceSplitter, split_sentences
from media.engines import ChatMessage, EngineError, LanguageModel, LlmChunk, ToolCall, ToolSpec

if TYPE_CHECKING:
    from agents.context import TurnContext

log = logging.getLogger(__name__)

MAX_TOOL_ROUNDS = 3  # LLM calls per caller turn in the tool loop (tool results go back in)


@dataclass
class LlmReply:
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    garbled: bool = False  # text that looked like JSON but was not a tool call: not spoken


def _chunks(llm: LanguageModel, messages: Sequence[ChatMessage], **kwargs: Any
            ) -> Iterator[LlmChunk]:
    """The backend's stream, with any failure turned into an EngineError."""
    try:
        yield from llm.chat(messages, **kwargs)
    except EngineError:
        raise
    except Exception as exc:  # a backend raised something of its own: same as an engine fault
        raise EngineError(getattr(llm, "name", "llm"), repr(exc)) from exc


def stream_reply(llm: LanguageModel, messages: Sequence[ChatMessage],
                 tools: Sequence[ToolSpec] = ()) -> Generator[Say, None, LlmReply]:
    """Say each sentence as soon as it is complete; return the whole reply and its tool calls.

    A reply that starts like JSON/markup is held back (never read to the caller): some models
    write their tool call as text; it is parsed as one if it is one.
    """
    reply = LlmReply()
    splitter = SentenceSplitter()
    speaking: bool | None = None
    parts: list[str] = []
    for chunk in _chunks(llm, messages, tools=tools):
        reply.tool_calls.extend(chunk.tool_calls)
        if not chunk.text:
            continue
        parts.append(chunk.text)
        if speaking is None:
            head = "".join(parts).lstrip()
            if not head:
                continue
            speaking = head[0] not in "{[`<"
            delta = "".join(parts) if speaking else ""
        else:
            delta = chunk.text if speaking else ""
        for sentence in splitter.feed(delta):
            yield Say(sentence)
    reply.text = "".join(parts).strip()
    if speaking:
        for sentence in splitter.flush():
            yield Say(sentence)
    elif reply.text:
        calls = _text_tool_calls(reply.text)
        if calls is None:
            log.warning("LLM answered unspeakable text: %.200r", reply.text)
            reply.garbled = True
        else:
            reply.tool_calls.extend(calls)
        reply.text = ""
    return reply


def _text_tool_calls(text: str) -> list[ToolCall] | None:
    """``{"name": ..., "arguments": {...}}`` (or a list of them) written as text."""
    body = re.sub(r"^```(?:json)?\s*|\s*```$", "", text.strip())
    try:
        data = json.loads(body)
    except ValueError:
        return None
    items = data if isinstance(data, list) else [data]
    calls: list[ToolCall] = []
    for item in items:
        if not isinstance(item, dict):
            return None
        item = item.get("function", item)
        name = item.get("name")
        args = item.get("arguments", item.get("parameters", {}))
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError:
                args = {}
        if not isinstance(name, str):
            return None
        calls.append(ToolCall(name=name, arguments=args if isinstance(args, dict) else {}))
    return calls


def tool_loop(ctx: TurnContext, system_prompt: str) -> Iterator[Action]:
    """One caller turn with tool calling: speak as the LLM streams, run its tool calls, give the
    results back, until it answers without a tool call (at most MAX_TOOL_ROUNDS LLM calls)."""
    assert ctx.llm is not None
    specs = ctx.toolbox.specs()
    correction: list[ChatMessage] = []
    for _ in range(MAX_TOOL_ROUNDS):
        reply = yield from stream_reply(ctx.llm, ctx.messages(system_prompt, *correction), specs)
        if reply.garbled:
            correction = [ChatMessage("system", "Deine letzte Antwort war kein gesprochener Text. "
                                                "Antworte dem Anrufer in ganzen Sätzen.")]
            continue
        correction = []
        ctx.record_assistant(tuple(reply.tool_calls))
        if not reply.tool_calls:
            if not ctx.said:
                yield from ctx.say(ctx.phrase("not_understood"))
            return
        for call in reply.tool_calls:
            outcome = ctx.toolbox.dispatch(call)
            yield outcome.used
            ctx.history.append(ChatMessage("tool", outcome.result, tool_name=outcome.used.name))
            if outcome.handover_to is not None:
                yield HandOver(ctx.profile, outcome.handover_to, reason="llm")
                return
            if outcome.terminal is not None:
                yield from _announce(ctx, outcome.terminal)
                yield outcome.terminal
                return
    if not ctx.said:
        yield from ctx.say(ctx.phrase("not_understood"))
        ctx.record_assistant()


def _announce(ctx: TurnContext, terminal: Transfer | EndCall) -> Iterator[Say]:
    """A transfer or hangup never comes without a spoken line before it."""
    if ctx.said:
        return
    if isinstance(terminal, Transfer):
        yield from ctx.say(ctx.phrase("forwarding", label=terminal.label))
    else:
        yield from ctx.say(ctx.phrase("goodbye"))
    ctx.record_assistant()


# ---------------------------------------------------------------------------- structured output

class JsonStringField:
    """Pulls the value of one top-level string field out of JSON text while it streams, so the
    reply inside a structured answer can be spoken before the answer is complete."""

    _ESCAPES = {"n": " ", "t": " ", "r": " ", "b": "", "f": "", "/": "/"}

    def __init__(self, name: str):
        self._start = re.compile('"' + re.escape(name) + r'"\s*:\s*"')
        self._buffer = ""
        self._pos = 0
        self._state = "seek"

    def feed(self, delta: str) -> str:
        self._buffer += delta
        if self._state == "seek":
            match = self._start.search(self._buffer)
            if match is None:
                return ""
            self._state, self._pos = "value", match.end()
        if self._state != "value":
            return ""
        out: list[str] = []
        buf, i = self._buffer, self._pos
        while i < len(buf):
            ch = buf[i]
            if ch == "\\":
                if i + 1 >= len(buf):
                    break
                nxt = buf[i + 1]
                if nxt == "u":
                    if i + 6 > len(buf):
                        break
                    try:
                        out.append(chr(int(buf[i + 2:i + 6], 16)))
                    except ValueError:
                        pass
                    i += 6
                    continue
                out.append(self._ESCAPES.get(nxt, nxt))
                i += 2
                continue
            if ch == '"':
                self._state = "done"
                i += 1
                break
            out.append(ch)
            i += 1
        self._pos = i
        return "".join(out)


@dataclass
class StructuredResult:
    data: dict[str, Any] | None  # None: no valid answer after the retry
    spoken: bool  # whether part of a reply was already said
    attempts: int
    error: str = ""


def ask_structured(llm: LanguageModel, messages: Sequence[ChatMessage], schema: dict[str, Any],
                   *, speak_field: str = "reply", check: Any = None
                   ) -> Generator[Say, None, StructuredResult]:
    """Ask for JSON following ``schema`` (Ollama ``format``), validate it, retry once.

    ``speak_field`` is spoken sentence by sentence while the answer streams (unless a reply was
    already spoken in the first attempt). ``check(data) -> str | None`` adds semantic checks.
    """
    spoken = False
    error = ""
    attempt_messages = list(messages)
    for attempt in (1, 2):
        # The first attempt is spoken as it streams; a retry only once it proved valid.
        stream = attempt == 1
        field_stream = JsonStringField(speak_field)
        splitter = SentenceSplitter()
        parts: list[str] = []
        for chunk in _chunks(llm, attempt_messages, response_format=schema):
            if not chunk.text:
                continue
            parts.append(chunk.text)
            if stream:
                for sentence in splitter.feed(field_stream.feed(chunk.text)):
                    spoken = True
                    yield Say(sentence)
        text = "".join(parts).strip()
        data, error = _parse(text, schema, check)
        if stream:
            for sentence in splitter.flush():
                spoken = True
                yield Say(sentence)
        elif data is not None and not spoken and isinstance(data.get(speak_field), str):
            for sentence in split_sentences(data[speak_field]):
                spoken = True
                yield Say(sentence)
        if data is not None:
            return StructuredResult(data, spoken, attempt)
        log.warning("structured answer rejected (attempt %d): %s; %.200r", attempt, error, text)
        attempt_messages = [
            *messages, ChatMessage("assistant", text[:2000]),
            ChatMessage("system", f"Diese Antwort ist ungültig ({error}). Antworte nur mit "
                                  "einem JSON-Objekt nach dem vorgegebenen Schema."),
        ]
    return StructuredResult(None, spoken, 2, error)


def _parse(text: str, schema: dict[str, Any], check: Any) -> tuple[dict[str, Any] | None, str]:
    body = re.sub(r"^```(?:json)?\s*|\s*```$", "", text)
    try:
        data = json.loads(body)
    except ValueError as exc:
        return None, f"kein gültiges JSON: {exc.msg}"
    problem = schema_errors(data, schema)
    if problem is None and check is not None:
        problem = check(data)
    if problem is not None:
        return None, problem
    return data, ""
