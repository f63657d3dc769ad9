"""What every CallSession shares: settings, database, engines, the pacer, ports, live calls."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from agents.knowledge.retrieval import KnowledgeBase
from config import Settings
from media.engines import LanguageModel, SpeechToText, TextToSpeech
from models import KnowledgeChunk

from .offload import EnginePool, OffloadedLLM, OffloadedSTT, OffloadedTTS, engine_pool
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
    settings: Settings
    db_app: Flask
    stt: SpeechToText | None
    llm: LanguageModel | None
    tts: TextToSpeech | None
    engine_problems: list[str] = field(default_factory=list)
    pacer: Pacer = field(default_factory=Pacer)
    live: LiveCalls = field(default_factory=LiveCalls)
    ports: PortAllocator | None = None
    engine_threads: int = 4  # per engine: a slow LLM never starves speech recognition
    _pools: list[EnginePool] = field(default_factory=list, repr=False)
    unicast_host: str = "127.0.0.1"
    _knowledge: KnowledgeBase | None = field(default=None, repr=False)
    _knowledge_version: tuple | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        s = self.settings
        if self.ports is None:
            self.ports = PortAllocator(s.rtp_port_min, s.rtp_port_max, self.unicast_host)
        e = s.engines
        if self.stt is not None:
            self.stt = OffloadedSTT(self.stt, self._pool(self.stt), e.stt_timeout_s)
        if self.llm is not None:
            self.llm = OffloadedLLM(self.llm, self._pool(self.llm), e.llm_timeout_s)
        if self.tts is not None:
            self.tts = OffloadedTTS(self.tts, self._pool(self.tts), e.tts_timeout_s)

    def _pool(self, engine: object) -> EnginePool:
        """Worker threads or hub greenlets, by what the engine waits for (offload.py)."""
        pool = engine_pool(engine, self.engine_threads)
        self._pools.append(pool)
        return pool

    def close(self) -> None:
        """Stop the engines' worker threads and greenlets, then release what the engines hold
        (the Coqui worker process, Ollama's connections) — node shutdown."""
        for pool in self._pools:
            pool.kill()
        self._pools.clear()
        for engine in (self.stt, self.llm, self.tts):
            close = getattr(getattr(engine, "inner", engine), "close", None)
            if callable(close):
                try:
                    close()
                except Exception as exc:  # a stopping node closes the rest regardless
                    logging.getLogger(__name__).warning("closing %s: %s", engine, exc)

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
