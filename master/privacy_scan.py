"""Proof that no conversation data reaches the master: record every request the master receives
and scan those bytes and the master's files for marker strings.

Reusable: wrap the master's WSGI app in ``BodyRecorder``, run whatever should produce traffic
(sync rounds, real calls through the FreeSWITCH stand-in), then call ``find_markers``.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: bytes
    headers: bytes
    body: bytes

    def all_bytes(self) -> bytes:
        return b"\n".join((self.method.encode(), self.path.encode("utf-8", "replace"),
                           self.query, self.headers, self.body))


class BodyRecorder:
    """WSGI middleware that keeps a copy of every request (line, headers, body)."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        stream = environ["wsgi.input"]
        if environ.get("wsgi.input_terminated"):
            body = stream.read()
        else:
            body = stream.read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        headers = "\n".join(
            f"{k}: {v}" for k, v in environ.items() if k.startswith("HTTP_")
        ).encode("utf-8", "replace")
        with self._lock:
            self.requests.append(RecordedRequest(
                method=environ.get("REQUEST_METHOD", ""),
                path=environ.get("PATH_INFO", ""),
                query=environ.get("QUERY_STRING", "").encode("latin-1", "replace"),
                headers=headers,
                body=body,
            ))
        return self.app(environ, start_response)

    def bodies(self) -> list[bytes]:
        with self._lock:
            return [r.all_bytes() for r in self.requests]


def _forms(marker: str) -> set[bytes]:
    """The byte forms a string can take on the wire or on disk (UTF-8, JSON-escaped,
    UTF-16 as SQLite may store text)."""
    return {
        marker.encode("utf-8"),
        json.dumps(marker)[1:-1].encode("ascii"),
        marker.encode("utf-16-le"),
    }


def files_below(directory: Path) -> list[Path]:
    """Every file of a master data dir (database, its WAL and SHM, PKI, logs)."""
    return sorted(p for p in Path(directory).rglob("*") if p.is_file())


def find_markers(
    markers: Iterable[str], *, bodies: Iterable[bytes] = (), files: Iterable[Path] = ()
) -> list[str]:
    """Where any marker occurs: ``["body #3: 'MARKER'", "file master.sqlite3-wal: …"]``."""
    wanted = {m: _forms(m) for m in markers}
    found: list[str] = []
    for index, body in enumerate(bodies):
        for marker, forms in wanted.items():
            if any(form in body for form in forms):
                found.append(f"body #{index}: {marker!r}")
    for path in files:
        data = Path(path).read_bytes()
        for marker, forms in wanted.items():
            if any(form in data for form in forms):
                found.append(f"file {path}: {marker!r}")
    return found
