"""Finding the passages that answer a caller's question: BM25 on German stems everywhere, fused
with embedding similarity where the node has an embedding model. Nothing relevant found means
"weiß ich nicht", never a guess."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from agents.knowledge.bm25 import Bm25Index
from agents.knowledge.embed import cosine
from media.engines import EngineError

log = logging.getLogger(__name__)

# Share of the question's words (IDF-weighted) a passage must contain. Lenient where an LLM
# reads the passages and decides itself; strict where a passage is read out verbatim.
MIN_COVERAGE = 0.25
STRICT_COVERAGE = 0.5
MIN_SIMILARITY = 0.6  # cosine a passage must reach (embedding side)
RRF_K = 60  # reciprocal rank fusion constant


class Embedder(Protocol):
    def embed(self, texts: list[str]) -> list[list[float]]: ...


@dataclass(frozen=True)
class Passage:
    text: str
    source: str  # the document's file name
    score: float = 0.0
    chunk_id: int | None = None


@dataclass(frozen=True)
class Chunk:
    text: str
    source: str
    embedding: list[float] | None = None
    chunk_id: int | None = None


@dataclass
class _AgentIndex:
    chunks: list[Chunk]
    bm25: Bm25Index = field(init=False)

    def __post_init__(self) -> None:
        self.bm25 = Bm25Index([f"{c.source} {c.text}" for c in self.chunks])


class KnowledgeBase:
    """The passages of every knowledge agent on this node, searchable per agent.

    ``embedder`` (e.g. `OllamaEmbedder`) is optional; without it, or when it fails, ranking is
    BM25 alone.
    """

    def __init__(self, chunks_by_agent: dict[int, list[Chunk]], *,
                 embedder: Embedder | None = None, min_coverage: float = MIN_COVERAGE,
                 strict_coverage: float = STRICT_COVERAGE,
                 min_similarity: float = MIN_SIMILARITY):
        self._chunks = chunks_by_agent
        self._indexes: dict[int, _AgentIndex] = {}
        self._lock = threading.Lock()
        self.embedder = embedder
        self.min_coverage = min_coverage
        self.strict_coverage = strict_coverage
        self.min_similarity = min_similarity

    @classmethod
    def load(cls, session: Any, *, embedder: Embedder | None = None) -> KnowledgeBase:
        """All chunks from the database (``session``: a SQLAlchemy session)."""
        from sqlalchemy import select

        from models import KnowledgeChunk, KnowledgeDocument

        rows = session.execute(
            select(KnowledgeDocument.agent_id, KnowledgeDocument.filename, KnowledgeChunk)
            .join(KnowledgeChunk, KnowledgeChunk.document_id == KnowledgeDocument.id)
            .order_by(KnowledgeDocument.id, KnowledgeChunk.seq)
        ).all()
        by_agent: dict[int, list[Chunk]] = {}
        for agent_id, filename, chunk in rows:
            by_agent.setdefault(agent_id, []).append(
                Chunk(chunk.text, filename, chunk.embedding, chunk.id))
        return cls(by_agent, embedder=embedder)

    @classmethod
    def from_texts(cls, agent_id: int, documents: Iterable[tuple[str, str]], *,
                   embedder: Embedder | None = None) -> KnowledgeBase:
        """Build from ``(source, text)`` pairs in memory (tests, benchmark)."""
        from agents.knowledge.parsing import chunk_text

        chunks = [Chunk(piece, source) for source, text in documents
                  for piece in chunk_text(text)]
        if embedder is not None:
            vectors = embedder.embed([c.text for c in chunks])
            chunks = [Chunk(c.text, c.source, v) for c, v in zip(chunks, vectors, strict=True)]
        return cls({agent_id: chunks}, embedder=embedder)

    def has_knowledge(self, agent_id: int) -> bool:
        return bool(self._chunks.get(agent_id))

    def _index(self, agent_id: int) -> _AgentIndex | None:
        with self._lock:
            if agent_id not in self._indexes and self._chunks.get(agent_id):
                self._indexes[agent_id] = _AgentIndex(self._chunks[agent_id])
            return self._indexes.get(agent_id)

    def search(self, agent_id: int, query: str, k: int = 3, *, strict: bool = False
               ) -> list[Passage]:
        """The best ``k`` passages that plausibly answer ``query``; [] when none does.

        ``strict``: only passages that contain most of the question (for reading a passage out
        without an LLM); otherwise also weaker matches an LLM can judge.
        """
        index = self._index(agent_id)
        if index is None or not query.strip():
            return []
        bm25 = index.bm25.scores(query)
        similarity = self._similarities(index, query)
        candidates = []
        needed = self.strict_coverage if strict else self.min_coverage
        for i in range(len(index.chunks)):
            lexical_ok = bm25[i] > 0 and index.bm25.coverage(query, i) >= needed
            semantic_ok = similarity is not None and similarity[i] >= self.min_similarity
            if lexical_ok or semantic_ok:
                candidates.append(i)
        if not candidates:
            return []
        fused = {i: 0.0 for i in candidates}
        for ranking in filter(None, [bm25, similarity]):
            order = sorted(range(len(ranking)), key=lambda j: ranking[j], reverse=True)
            for rank, j in enumerate(order):
                if j in fused:
                    fused[j] += 1.0 / (RRF_K + rank + 1)
        best = sorted(candidates, key=lambda j: fused[j], reverse=True)[:k]
        return [Passage(index.chunks[j].text, index.chunks[j].source, round(fused[j], 5),
                        index.chunks[j].chunk_id) for j in best]

    def _similarities(self, index: _AgentIndex, query: str) -> list[float] | None:
        if self.embedder is None or not any(c.embedding for c in index.chunks):
            return None
        try:
            vector = self.embedder.embed([query])[0]
        except EngineError as exc:
            log.warning("embedding the question failed, BM25 only: %s", exc)
            return None
        return [cosine(vector, c.embedding) if c.embedding else 0.0 for c in index.chunks]
