"""A local stand-in for an Ollama server: real HTTP on 127.0.0.1, Ollama's real wire protocol,
scripted answers. Tests and the benchmark point the official ``ollama`` client at it.

Speaks:

- ``POST /api/chat`` — streaming ``application/x-ndjson`` chunks
  ``{"model", "created_at", "message": {"role": "assistant", "content"}, "done": false}``, tool
  calls under ``message.tool_calls``, and a final ``{"done": true, "done_reason": "stop", ...}``
  with Ollama's counters; ``"stream": false`` gets one JSON object. An unknown model gets 404
  ``{"error": "model \\"x\\" not found, try pulling it first"}`` as from Ollama.
- ``GET /api/tags`` (the installed models), ``GET /api/version``,
- ``POST /api/embed`` — deterministic bag-of-words vectors (hashed words, L2-normalised), so
  texts that share words are close: good enough for retrieval tests,
- ``POST /api/pull`` — streams pull progress and then "installs" the model.

Usage::

    with OllamaServer(["Guten Tag!", Scripted(tool_calls=[ToolCall("end_call", {})])]) as server:
        llm = OllamaLLM("qwen2.5:7b-instruct", host=server.url)
        ...
        server.requests[0]["messages"]  # what the client sent

Each ``/api/chat`` request takes the next scripted answer (``default`` once the script is used
up). A script entry is a ``str`` (streamed word by word), a ``ToolCall``, a ``dict`` (sent as JSON
text, for structured output) or a :class:`Scripted` for timing and faults.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from media.engines import ToolCall

DEFAULT_MODEL = "qwen2.5:7b-instruct"
EMBED_DIMENSIONS = 64


@dataclass
class Scripted:
    """One scripted answer with timing and fault options."""

    text: str = ""
    tool_calls: Sequence[ToolCall] = ()
    first_token_delay_s: float = 0.0  # before the first chunk (after the HTTP headers)
    chunk_delay_s: float = 0.0  # between chunks
    status: int = 200  # != 200: answer with this HTTP status and {"error": error}
    error: str = ""
    raw: bytes | None = None  # sent verbatim as the body (garbage tests)
    stop_after_chunks: int | None = None  # close the stream early, never sending "done"
    error_after_chunks: int | None = None  # send {"error": error} mid-stream, as Ollama does

    @classmethod
    def coerce(cls, item: Any) -> Scripted:
        if isinstance(item, Scripted):
            return item
        if isinstance(item, ToolCall):
            return cls(tool_calls=[item])
        if isinstance(item, list):
            return cls(tool_calls=item)
        if isinstance(item, dict):
            return cls(text=json.dumps(item, ensure_ascii=False))
        if isinstance(item, str):
            return cls(text=item)
        raise TypeError(f"cannot script {item!r}")


@dataclass
class _State:
    script: list[Scripted]
    default: Scripted
    models: list[str]
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def next_answer(self, body: dict[str, Any]) -> Scripted:
        with self.lock:
            self.requests.append(body)
            return self.script.pop(0) if self.script else self.default


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def embed_vector(text: str) -> list[float]:
    """The server's deterministic embedding: hashed word counts, L2-normalised."""
    vector = [0.0] * EMBED_DIMENSIONS
    for word in _words(text):
        digest = hashlib.sha256(word.encode("utf-8")).digest()
        vector[digest[0] % EMBED_DIMENSIONS] += 1.0 if digest[1] % 2 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def _stream_pieces(answer: Scripted) -> list[dict[str, Any]]:
    """The assistant messages of a streamed answer, in order (without the final done chunk)."""
    pieces: list[dict[str, Any]] = []
    if answer.text:
        words = answer.text.split(" ")
        pieces += [{"role": "assistant", "content": w if i == 0 else " " + w}
                   for i, w in enumerate(words)]
    if answer.tool_calls:
        pieces.append({"role": "assistant", "content": "", "tool_calls": [
            {"function": {"index": i, "name": c.name, "arguments": c.arguments}}
            for i, c in enumerate(answer.tool_calls)]})
    return pieces


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        return

    # ------------------------------------------------------------------------------- plumbing

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def _json(self, payload: Any, status: int = 200) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _send_line(self, payload: dict[str, Any] | bytes) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # -------------------------------------------------------------------------------- routes

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        state = self.server.state
        if self.path == "/api/tags":
            self._json({"models": [{
                "name": m, "model": m, "modified_at": _now(), "size": 4_700_000_000,
                "digest": hashlib.sha256(m.encode()).hexdigest(),
                "details": {"format": "gguf", "family": m.split(":")[0], "parameter_size": "7B",
                            "quantization_level": "Q4_K_M"},
            } for m in state.models]})
        elif self.path == "/api/version":
            self._json({"version": "0.12.0"})
        elif self.path == "/":
            body = b"Ollama is running"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self._json({"error": "not found"}, 404)

    def do_POST(self) -> None:  # noqa: N802
        routes = {"/api/chat": self._chat, "/api/embed": self._embed, "/api/pull": self._pull}
        route = routes.get(self.path)
        if route is None:
            self._json({"error": "not found"}, 404)
            return
        route(self._body())

    def _chat(self, body: dict[str, Any]) -> None:
        state = self.server.state
        model = body.get("model", "")
        if model not in state.models:
            self._json({"error": f'model "{model}" not found, try pulling it first'}, 404)
            return
        answer = state.next_answer(body)
        if answer.status != 200:
            self._json({"error": answer.error or "internal error"}, answer.status)
            return
        if answer.raw is not None:
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Content-Length", str(len(answer.raw)))
            self.end_headers()
            self.wfile.write(answer.raw)
            return
        pieces = _stream_pieces(answer)
        prompt_tokens = sum(len(_words(m.get("content", ""))) for m in body.get("messages", []))
        final = {"model": model, "created_at": _now(), "done": True, "done_reason": "stop",
                 "total_duration": 1, "load_duration": 1, "prompt_eval_count": prompt_tokens,
                 "prompt_eval_duration": 1, "eval_count": len(pieces), "eval_duration": 1}
        if body.get("stream", True) is False:
            message = {"role": "assistant", "content": answer.text}
            if answer.tool_calls:
                message["tool_calls"] = _stream_pieces(Scripted(tool_calls=answer.tool_calls))[
                    0]["tool_calls"]
            time.sleep(answer.first_token_delay_s)
            self._json(final | {"message": message})
            return
        self._start_stream()
        time.sleep(answer.first_token_delay_s)
        for i, piece in enumerate(pieces):
            if answer.stop_after_chunks is not None and i >= answer.stop_after_chunks:
                self._end_stream()
                return
            if answer.error_after_chunks is not None and i >= answer.error_after_chunks:
                self._send_line({"error": answer.error or "model runner has unexpectedly stopped"})
                self._end_stream()
                return
            if i and answer.chunk_delay_s:
                time.sleep(answer.chunk_delay_s)
            self._send_line({"model": model, "created_at": _now(), "message": piece,
                             "done": False})
        self._send_line(final | {"message": {"role": "assistant", "content": ""}})
        self._end_stream()

    def _embed(self, body: dict[str, Any]) -> None:
        texts = body.get("input", "")
        texts = [texts] if isinstance(texts, str) else list(texts)
        self._json({"model": body.get("model", ""),
                    "embeddings": [embed_vector(t) for t in texts],
                    "total_duration": 1, "load_duration": 1,
                    "prompt_eval_count": sum(len(_words(t)) for t in texts)})

    def _pull(self, body: dict[str, Any]) -> None:
        model = body.get("model") or body.get("name", "")
        self._start_stream()
        self._send_line({"status": "pulling manifest"})
        digest = "sha256:" + hashlib.sha256(model.encode()).hexdigest()
        total = 4_000_000
        for completed in (0, total // 2, total):
            self._send_line({"status": f"pulling {digest[7:19]}", "digest": digest,
                             "total": total, "completed": completed})
        for status in ("verifying sha256 digest", "writing manifest", "success"):
            self._send_line({"status": status})
        self._end_stream()
        with self.server.state.lock:
            if model not in self.server.state.models:
                self.server.state.models.append(model)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout tests) is expected; anything else is printed."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class OllamaServer:
    """The scripted server, running in a thread on 127.0.0.1 (a free port) while open."""

    def __init__(self, script: Iterable[Any] = (), *, models: Iterable[str] = (DEFAULT_MODEL,),
                 default: Any = "Alles klar."):
        self._state = _State(script=[Scripted.coerce(s) for s in script],
                             default=Scripted.coerce(default), models=list(models))
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("server not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The JSON bodies of all ``/api/chat`` requests so far."""
        return self._state.requests

    @property
    def models(self) -> list[str]:
        return self._state.models

    def add(self, *answers: Any) -> None:
        """Append answers to the script."""
        with self._state.lock:
            self._state.script.extend(Scripted.coerce(a) for a in answers)

    def start(self) -> OllamaServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.state = self._state
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="ollama-server",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> OllamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
