"""Documents a customer uploads for a knowledge agent ("Wissen"), cut into searchable chunks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import db


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class KnowledgeDocument(db.Model):
    """One uploaded file of one agent; deleting the agent deletes its documents."""

    __tablename__ = "knowledge_document"
    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(16))  # pdf | docx | txt | md
    size_bytes: Mapped[int] = mapped_column(default=0)
    characters: Mapped[int] = mapped_column(default=0)
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=_utcnow)
    embedding_model: Mapped[str] = mapped_column(String(100), default="")  # "" = BM25 only
    chunks: Mapped[list[KnowledgeChunk]] = relationship(
        back_populates="document", cascade="all, delete-orphan", order_by="KnowledgeChunk.seq"
    )


class KnowledgeChunk(db.Model):
    """A passage of a document: what retrieval finds and the agent reads from."""

    __tablename__ = "knowledge_chunk"
    __table_args__ = (Index("ix_knowledge_chunk_doc_seq", "document_id", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("knowledge_document.id", ondelete="CASCADE")
    )
    seq: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    embedding: Mapped[list[float] | None] = mapped_column(JSON, default=None)
    document: Mapped[KnowledgeDocument] = relationship(back_populates="chunks")

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "document_id": self.document_id, "seq": self.seq,
                "text": self.text}
