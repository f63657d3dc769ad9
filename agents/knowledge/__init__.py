"""Knowledge for "Wissen" agents: upload parsing, chunks in the database, German retrieval."""

from agents.knowledge.parsing import KnowledgeError, chunk_text, extract_text
from agents.knowledge.retrieval import KnowledgeBase, Passage

__all__ = ["KnowledgeBase", "KnowledgeError", "Passage", "chunk_text", "extract_text"]
