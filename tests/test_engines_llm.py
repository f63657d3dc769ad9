"""The Ollama backend against a local server that speaks Ollama's real HTTP protocol."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from media.engines import (
    ChatMessage,
    EngineError,
    EngineTimeout,
    EngineUnavailable,
    LlmChunk,
    ToolCall,
    ToolSpec,
)
from media.llm.context import estimate_tokens, fit_messages
from media.llm.ollama import OllamaLLM
from tests.ollama_server import DEFAULT_MODEL, OllamaServer, Scripted, embed_vector

SYSTEM = ChatMessage("system", "Du bist die Telefonassistenz der Praxis Dr. Weber.")
TRANSFER = ToolSpec("transfer_call", "Verbindet mit einem Menschen.",
                    {"type": "object", "properties": {"target": {"type": "string"}},
                     "required": ["target"]})


_open: list[Any] = []  # clients to close after each test


@pytest.fixture
def server():
    with OllamaServer() as srv:
        yield srv
    while _open:
        _open.pop().close()


def llm_for(server: OllamaServer, model: str = DEFAULT_MODEL, **kwargs) -> OllamaLLM:
    llm = OllamaLLM(model, host=server.url, **kwargs)
    _open.append(llm)
    return llm


def test_streams_the_answer_in_order_and_ends_with_done(server):
    server.add("Guten Tag, hier ist die Praxis Dr. Weber. Wie kann ich helfen?")
    chunks = list(llm_for(server).chat([SYSTEM, ChatMessage("user", "Hallo?")]))
    assert "".join(c.text for c in chunks) == (
        "Guten Tag, hier ist die Praxis Dr. Weber. Wie kann ich helfen?")
    assert len(chunks) > 5, "arrives word by word, not as one block"
    assert chunks[-1].done and not any(c.done for c in chunks[:-1])


def test_first_words_arrive_before_the_answer_is_complete(server):
    server.add(Scripted(text="Einen Moment bitte, ich sehe nach.", chunk_delay_s=0.1))
    start = time.monotonic()
    stream = llm_for(server).chat([ChatMessage("user", "Haben Sie morgen offen?")])
    first = next(stream)
    first_at = time.monotonic() - start
    rest = list(stream)
    assert first.text == "Einen"
    assert first_at < 0.2 < time.monotonic() - start
    assert rest[-1].done


def test_sends_messages_tools_and_options_as_ollama_expects(server):
    history = [SYSTEM, ChatMessage("user", "Ich will Frau Weber sprechen."),
               ChatMessage("assistant", "", tool_calls=(ToolCall("lookup", {"q": "Weber"}),)),
               ChatMessage("tool", "Durchwahl 12", tool_name="lookup")]
    list(llm_for(server, num_ctx=4096).chat(history, tools=[TRANSFER]))
    body = server.requests[0]
    assert body["model"] == DEFAULT_MODEL and body["stream"] is True
    assert body["options"]["num_ctx"] == 4096
    assert body["messages"][0] == {"role": "system", "content": SYSTEM.content}
    assert body["messages"][2]["tool_calls"] == [
        {"function": {"name": "lookup", "arguments": {"q": "Weber"}}}]
    assert body["messages"][3] == {"role": "tool", "content": "Durchwahl 12",
                                   "tool_name": "lookup"}
    assert body["tools"] == [{"type": "function", "function": {
        "name": "transfer_call", "description": TRANSFER.description,
        "parameters": TRANSFER.parameters}}]


def test_tool_calls_come_back_as_toolcall_objects(server):
    server.add(Scripted(text="Ich verbinde Sie.", tool_calls=[
        ToolCall("transfer_call", {"target": "Empfang"})]))
    chunks = list(llm_for(server).chat([ChatMessage("user", "Verbinden Sie mich")],
                                       tools=[TRANSFER]))
    calls = [c for chunk in chunks for c in chunk.tool_calls]
    assert calls == [ToolCall("transfer_call", {"target": "Empfang"})]
    assert "".join(c.text for c in chunks) == "Ich verbinde Sie."
    assert chunks[-1] == LlmChunk(done=True)


def test_a_tool_the_agent_does_not_have_is_an_engine_error(server):
    server.add(ToolCall("delete_database", {}))
    with pytest.raises(EngineError, match="delete_database"):
        list(llm_for(server).chat([ChatMessage("user", "x")], tools=[TRANSFER]))


def test_response_format_is_sent_as_ollama_format(server):
    schema = {"type": "object", "properties": {"name": {"type": "string"}},
              "required": ["name"]}
    server.add({"name": "Erika Mustermann"})
    text = "".join(c.text for c in llm_for(server).chat(
        [ChatMessage("user", "Mein Name ist Erika Mustermann")], response_format=schema))
    assert server.requests[0]["format"] == schema
    assert json.loads(text) == {"name": "Erika Mustermann"}


def test_http_500_is_an_engine_error_naming_the_status(server):
    server.add(Scripted(status=500, error="llama runner process has terminated"))
    with pytest.raises(EngineError, match="HTTP 500: llama runner process has terminated"):
        list(llm_for(server).chat([ChatMessage("user", "Hallo")]))


def test_error_line_mid_stream_is_an_engine_error(server):
    server.add(Scripted(text="Das ist eine lange Antwort", error_after_chunks=2,
                        error="out of memory"))
    stream = llm_for(server).chat([ChatMessage("user", "Hallo")])
    with pytest.raises(EngineError, match="out of memory"):
        list(stream)


def test_garbage_body_is_an_engine_error(server):
    server.add(Scripted(raw=b"<html>502 Bad Gateway</html>\n"))
    with pytest.raises(EngineError, match="unlesbare Antwort"):
        list(llm_for(server).chat([ChatMessage("user", "Hallo")]))


def test_stream_that_stops_without_done_is_an_engine_error(server):
    server.add(Scripted(text="Ich bin gleich", stop_after_chunks=2))
    with pytest.raises(EngineError, match="ohne Abschluss"):
        list(llm_for(server).chat([ChatMessage("user", "Hallo")]))


def test_slow_server_raises_engine_timeout_from_the_client_timeout(server):
    server.add(Scripted(text="zu spät", first_token_delay_s=2.0))
    start = time.monotonic()
    with pytest.raises(EngineTimeout, match="0.3 s"):
        list(llm_for(server, timeout_s=0.3).chat([ChatMessage("user", "Hallo")]))
    assert time.monotonic() - start < 1.5


def test_unknown_model_is_engine_unavailable(server):
    llm = llm_for(server, "gibt-es-nicht:1b")
    with pytest.raises(EngineUnavailable, match="gibt-es-nicht"):
        list(llm.chat([ChatMessage("user", "Hallo")]))
    assert "ollama pull gibt-es-nicht:1b" in llm.problem()
    assert llm_for(server).problem() is None


def test_server_down_is_engine_unavailable():
    with OllamaServer() as srv:
        url = srv.url
    llm = OllamaLLM(DEFAULT_MODEL, host=url, timeout_s=1.0)
    try:
        with pytest.raises(EngineUnavailable, match="nicht erreichbar"):
            list(llm.chat([ChatMessage("user", "Hallo")]))
        assert "nicht erreichbar" in llm.problem()
    finally:
        llm.close()


def test_a_twenty_minute_monologue_stays_inside_the_context_window(server):
    sentence = "Und dann habe ich noch einmal bei Ihnen angerufen, aber niemand ging ran. "
    turns = [ChatMessage("user" if i % 2 == 0 else "assistant", sentence * 4) for i in range(200)]
    messages = [SYSTEM, *turns, ChatMessage("user", "Was sagen Sie dazu?")]
    assert sum(estimate_tokens(m) for m in messages) > 20_000  # ~3,000 words spoken
    llm = llm_for(server, num_ctx=2048, answer_tokens=512)
    list(llm.chat(messages))
    sent = server.requests[0]["messages"]
    assert sent[0]["content"] == SYSTEM.content, "the system prompt always stays"
    assert sent[-1]["content"] == "Was sagen Sie dazu?", "the newest turn always stays"
    sent_tokens = sum(estimate_tokens(ChatMessage(m["role"], m["content"])) for m in sent)
    assert sent_tokens <= 2048 - 512
    assert len(sent) < len(messages)


def test_context_budget_keeps_tool_answers_with_their_call():
    call = ChatMessage("assistant", "", tool_calls=(ToolCall("lookup", {"q": "x" * 300}),))
    answer = ChatMessage("tool", "y" * 30, tool_name="lookup")
    newest = ChatMessage("user", "Danke.")
    fitted = fit_messages([SYSTEM, call, answer, newest],
                          estimate_tokens(SYSTEM) + estimate_tokens(answer)
                          + estimate_tokens(newest) + 5)
    assert fitted == [SYSTEM, newest], "no orphaned tool answer without its call"


def test_one_overlong_message_keeps_its_newest_words():
    monologue = ChatMessage("user", "Anfang " + "bla " * 5000 + "und das Ende.")
    fitted = fit_messages([SYSTEM, monologue], 500)
    assert fitted[1].content.endswith("und das Ende.")
    assert not fitted[1].content.startswith("Anfang")
    assert sum(estimate_tokens(m) for m in fitted) <= 500


def test_server_speaks_tags_embed_and_pull_for_the_real_client(server):
    import ollama

    client = ollama.Client(host=server.url, timeout=5)
    _open.append(client)
    assert [m.model for m in client.list().models] == [DEFAULT_MODEL]
    result = client.embed(model="nomic-embed-text", input=["Öffnungszeiten heute",
                                                           "Wann haben Sie heute geöffnet?"])
    assert len(result.embeddings) == 2 and len(result.embeddings[0]) == 64
    assert result.embeddings[0] == embed_vector("Öffnungszeiten heute")
    statuses = [p.status for p in client.pull("llama3.2:1b", stream=True)]
    assert statuses[0] == "pulling manifest" and statuses[-1] == "success"
    assert "llama3.2:1b" in [m.model for m in client.list().models]


def test_server_answers_non_streaming_requests_too(server):
    import ollama

    server.add(Scripted(text="Gern.", tool_calls=[ToolCall("end_call", {"reason": "fertig"})]))
    client = ollama.Client(host=server.url, timeout=5)
    _open.append(client)
    response = client.chat(model=DEFAULT_MODEL, messages=[{"role": "user", "content": "Tschüss"}],
                           stream=False)
    assert response.done and response.message.content == "Gern."
    assert response.message.tool_calls[0].function.name == "end_call"
    assert response.message.tool_calls[0].function.arguments == {"reason": "fertig"}
    assert server.requests[0]["stream"] is False
