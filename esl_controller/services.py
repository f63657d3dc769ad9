"""What every CallSession shares: settings, database, engines, the pacer, ports, live calls.

A plain value: it builds, starts and wraps nothing. The node (``voicegate/node.py``,
``call_services``) hands it engines already offloaded into their pools and a pacer it starts
and stops itself.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from agents.knowledge.retrieval import KnowledgeBase
from config import Settings
from media.engines import LanguageModel, SpeechToText, TextToSpeech
from models import KnowledgeChunk

from .pacer import Pacer
from .unicast import PortAllocator


class LiveCalls:
    """Calls in progress, for the status endpoint and the master's health report."""

    def __init__(self) -> None:
        self._calls: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def add(self, uuid: str, **info: Any) -> None:
        with self._lock:
            self._calls[uuid] = {"uuid": uuid, "since": dt.datetime.now(dt.UTC).isoformat(), **info}

    def update(self, uuid: str, **info: Any) -> None:
        with self._lock:
            if uuid in self._calls:
                self._calls[uuid].update(info)

    def remove(self, uuid: str) -> None:
        with self._lock:
            self._calls.pop(uuid, None)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self._calls.values()]

    def __len__(self) -> int:
        return len(self._calls)


@dataclass
class CallServices:
    """``stt``/``llm``/``tts`` are the offloaded engines (offload.py) or None when missing."""

    settings: Settings
    db_app: Flask
    stt: SpeechToText | None
    llm: LanguageModel | None
    tts: TextToSpeech | None
    pacer: Pacer
    ports: PortAllocator
    engine_problems: list[str] = field(default_factory=list)
    live: LiveCalls = field(default_factory=LiveCalls)
    unicast_host: str = "127.0.0.1"
    _knowledge: KnowledgeBase | None = field(default=None, repr=False)
    _knowledge_version: tuple | None = field(default=None, repr=False)

    def knowledge_base(self, session) -> KnowledgeBase:
        """The uploaded documents' index, rebuilt only when documents changed."""
        from sqlalchemy import func, select

        version = tuple(session.execute(
            select(func.count(KnowledgeChunk.id), func.max(KnowledgeChunk.id))).one())
        if self._knowledge is None or version != self._knowledge_version:
            embedder = None
            e = self.settings.engines
            if e.embed_model and e.llm == "ollama":
                from agents.knowledge.embed import OllamaEmbedder

                embedder = OllamaEmbedder(e.embed_model, host=e.ollama_host)
            self._knowledge = KnowledgeBase.load(session, embedder=embedder)
            self._knowledge_version = version
        return self._knowledge

    @property
    def engines_ready(self) -> bool:
        """Without STT or TTS an agent can neither hear nor speak: calls go to the fallback."""
        return self.stt is not None and self.tts is not None
