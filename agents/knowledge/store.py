"""Uploaded documents into the node's database, as chunks (and embeddings where possible)."""

from __future__ import annotations

import logging
from typing import Any

from agents.knowledge.parsing import chunk_text, extract_text, kind_of
from agents.knowledge.retrieval import Embedder
from media.engines import EngineError

log = logging.getLogger(__name__)


def add_document(session: Any, agent_id: int, filename: str, data: bytes, *,
                 embedder: Embedder | None = None, embedding_model: str = "") -> Any:
    """Parse, chunk and store one upload for ``agent_id``; returns the KnowledgeDocument row.

    Raises KnowledgeError (German message) for files that cannot become knowledge. Without an
    embedder, or when it fails, the document is stored for BM25 only.
    """
    from models import KnowledgeChunk, KnowledgeDocument

    kind = kind_of(filename)
    text = extract_text(filename, data)
    pieces = chunk_text(text)
    vectors: list[list[float]] | list[None] = [None] * len(pieces)
    model = ""
    if embedder is not None:
        try:
            vectors = embedder.embed(pieces)
            model = embedding_model or getattr(embedder, "model", "")
        except EngineError as exc:
            log.warning("embedding %s failed, stored for BM25 only: %s", filename, exc)
    document = KnowledgeDocument(
        agent_id=agent_id, filename=filename[:255], content_type=kind, size_bytes=len(data),
        characters=len(text), embedding_model=model,
        chunks=[KnowledgeChunk(seq=i, text=piece, embedding=vector)
                for i, (piece, vector) in enumerate(zip(pieces, vectors, strict=True))],
    )
    session.add(document)
    session.flush()
    return document


def documents_of(session: Any, agent_id: int) -> list[Any]:
    from sqlalchemy import select

    from models import KnowledgeDocument

    return list(session.scalars(select(KnowledgeDocument)
                                .where(KnowledgeDocument.agent_id == agent_id)
                                .order_by(KnowledgeDocument.uploaded_at)))


def delete_document(session: Any, document_id: int) -> bool:
    from models import KnowledgeDocument

    document = session.get(KnowledgeDocument, document_id)
    if document is None:
        return False
    session.delete(document)
    session.flush()
    return True
