"""Ollama backend through the official ``ollama`` client: streaming chat with tool calls and
JSON-schema output, a request timeout on every HTTP read, and a context budget so long calls
never overflow the model's window.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from ..engines import (
    ChatMessage,
    EngineError,
    EngineTimeout,
    EngineUnavailable,
    LlmChunk,
    ToolCall,
    ToolSpec,
)
from .context import fit_messages

logger = logging.getLogger(__name__)


def to_ollama_message(message: ChatMessage) -> dict[str, Any]:
    payload: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        payload["tool_calls"] = [{"function": {"name": c.name, "arguments": c.arguments}}
                                 for c in message.tool_calls]
    if message.role == "tool" and message.tool_name:
        payload["tool_name"] = message.tool_name
    return payload


def to_ollama_tool(tool: ToolSpec) -> dict[str, Any]:
    return {"type": "function", "function": {"name": tool.name, "description": tool.description,
                                             "parameters": tool.parameters}}


class OllamaLLM:
    """Chat with a model served by Ollama (on this VM or a GPU host).

    ``timeout_s`` bounds every HTTP read (connect, first byte, each streamed chunk), so a hung
    server raises :class:`EngineTimeout` even if the caller forgot its own deadline.
    ``num_ctx`` is the context window asked of Ollama; the conversation is cut to fit it minus
    ``answer_tokens`` (room for the reply).
    """

    name = "ollama"
    waits_on = "socket"  # it waits for the Ollama server over HTTP (esl_controller/offload.py)

    def __init__(self, model: str, *, host: str = "http://127.0.0.1:11434",
                 timeout_s: float = 15.0, num_ctx: int = 8192, answer_tokens: int = 1024,
                 temperature: float = 0.3, keep_alive: str = "30m"):
        try:
            import ollama
        except ImportError as exc:
            raise EngineUnavailable(
                self.name, f"ollama-Client ist nicht installiert / not installed: {exc}"
            ) from exc
        if num_ctx <= answer_tokens:
            raise ValueError(f"num_ctx ({num_ctx}) must exceed answer_tokens ({answer_tokens})")
        self.model = model
        self.host = host
        self.timeout_s = timeout_s
        self.num_ctx = num_ctx
        self.answer_tokens = answer_tokens
        self.temperature = temperature
        self.keep_alive = keep_alive
        self._client = ollama.Client(host=host, timeout=timeout_s)

    # ------------------------------------------------------------------------------- the chat

    def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] = (),
        response_format: dict[str, Any] | None = None,
    ) -> Iterator[LlmChunk]:
        tool_payload = [to_ollama_tool(t) for t in tools]
        tool_tokens = len(json.dumps(tool_payload)) // 3 if tool_payload else 0
        fitted = fit_messages(messages, self.num_ctx - self.answer_tokens - tool_tokens)
        request: dict[str, Any] = dict(
            model=self.model, messages=[to_ollama_message(m) for m in fitted], stream=True,
            options={"num_ctx": self.num_ctx, "temperature": self.temperature},
            keep_alive=self.keep_alive,
        )
        if tool_payload:
            request["tools"] = tool_payload
        if response_format is not None:
            request["format"] = response_format
        return self._stream(request, {t.name for t in tools})

    def _stream(self, request: dict[str, Any], tool_names: set[str]) -> Iterator[LlmChunk]:
        with self._errors_mapped():
            for part in self._client.chat(**request):
                chunk = self._chunk(part, tool_names)
                if chunk.done:
                    yield chunk
                    return
                if chunk.text or chunk.tool_calls:
                    yield chunk
        raise EngineError(self.name, "Antwort brach ohne Abschluss ab / stream ended without done")

    def _chunk(self, part: Any, tool_names: set[str]) -> LlmChunk:
        message = part.message
        text = message.content or ""
        calls = []
        for call in message.tool_calls or ():
            name = call.function.name
            if tool_names and name not in tool_names:
                raise EngineError(self.name, f"unbekanntes Werkzeug / unknown tool {name!r}")
            calls.append(ToolCall(name=name, arguments=dict(call.function.arguments or {})))
        return LlmChunk(text=text, tool_calls=tuple(calls), done=bool(part.done))

    def close(self) -> None:
        """Close the HTTP connection pool (node shutdown, tests)."""
        self._client.close()

    # ---------------------------------------------------------------------------- the server

    def installed_models(self) -> list[str]:
        """Models the server has (``/api/tags``)."""
        with self._errors_mapped():
            return [m.model for m in self._client.list().models if m.model]

    def problem(self) -> str | None:
        """Why this engine cannot answer right now (server down, model not pulled), or None."""
        try:
            models = self.installed_models()
        except EngineUnavailable:
            return (f"Ollama unter {self.host} nicht erreichbar / not reachable — läuft "
                    "`ollama serve`? / is it running?")
        except EngineError as exc:
            return f"Ollama unter {self.host} antwortet fehlerhaft / answers wrongly: {exc}"
        wanted = {self.model, f"{self.model}:latest"}
        if not wanted.intersection(models):
            return (f"Sprachmodell fehlt / LLM missing: '{self.model}' ist in Ollama "
                    f"({self.host}) nicht installiert — `voicegate models pull` oder "
                    f"`ollama pull {self.model}`")
        return None

    def _errors_mapped(self) -> _ErrorMap:
        return _ErrorMap(self)


class _ErrorMap:
    """Turns everything the client, httpx and pydantic may raise into engine errors."""

    def __init__(self, engine: OllamaLLM):
        self.engine = engine

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> bool:
        if exc is None or isinstance(exc, EngineError | GeneratorExit):
            return False
        if not isinstance(exc, Exception):
            return False
        import httpx
        import ollama
        import pydantic

        name, host = self.engine.name, self.engine.host
        if isinstance(exc, httpx.TimeoutException):
            raise EngineTimeout(name, f"keine Antwort von {host} nach / no answer after "
                                f"{self.engine.timeout_s:g} s") from exc
        if isinstance(exc, ollama.ResponseError):
            if exc.status_code == 404:
                raise EngineUnavailable(name, f"Modell / model '{self.engine.model}' fehlt / "
                                        f"missing: {exc.error}") from exc
            raise EngineError(name, f"HTTP {exc.status_code}: {exc.error}") from exc
        if isinstance(exc, ConnectionError | httpx.ConnectError):
            raise EngineUnavailable(name, f"{host} nicht erreichbar / not reachable") from exc
        if isinstance(exc, json.JSONDecodeError | pydantic.ValidationError | httpx.HTTPError):
            raise EngineError(name, f"unlesbare Antwort / unreadable answer: "
                              f"{type(exc).__name__}: {str(exc)[:200]}") from exc
        raise EngineError(name, f"{type(exc).__name__}: {exc}") from exc
