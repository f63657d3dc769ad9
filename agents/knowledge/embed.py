"""Embeddings through Ollama's ``/api/embed`` (a multilingual model where the node has one)."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from media.engines import EngineError, EngineUnavailable

log = logging.getLogger(__name__)


class OllamaEmbedder:
    """``embed(texts)`` -> one L2-normalised vector per text, via the ``ollama`` client."""

    name = "ollama-embed"

    def __init__(self, model: str, *, host: str = "http://127.0.0.1:11434",
                 timeout_s: float = 10.0, batch: int = 32):
        try:
            import ollama
        except ImportError as exc:
            raise EngineUnavailable(self.name, f"ollama client not installed: {exc}") from exc
        self.model = model
        self.batch = batch
        self._client = ollama.Client(host=host, timeout=timeout_s)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch):
            part = list(texts[start:start + self.batch])
            try:
                response = self._client.embed(model=self.model, input=part)
            except Exception as exc:  # connection, HTTP or protocol errors of the client
                raise EngineError(self.name, f"/api/embed failed: {exc!r}") from exc
            got = list(response.embeddings or [])
            if len(got) != len(part):
                raise EngineError(self.name, f"{len(got)} vectors for {len(part)} texts")
            vectors += [normalise(list(v)) for v in got]
        return vectors

    def close(self) -> None:
        self._client.close()


def normalise(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Of two normalised vectors (0 when the dimensions differ: another model made them)."""
    if len(a) != len(b):
        return 0.0
    return sum(x * y for x, y in zip(a, b, strict=True))
