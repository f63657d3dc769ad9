"""Sentence splitting for the agents: fixed texts at once, LLM text as it streams.

Uses the media layer's `SentenceSplitter` (one splitter for the whole project) where it exists.
"""

from __future__ import annotations

import re

try:  # media.sentences is written beside this module; prefer it as soon as it is there
    from media.sentences import SentenceSplitter
except ImportError:  # pragma: no cover - replaced by media.sentences
    _END = re.compile(r"[.!?…]+\s+")
    _NO_END = re.compile(r"(\b(z\.B|Dr|Nr|bzw|ca|usw|Str|Hr|Fr|St)\.|\b\d{1,2}\.)\s+$")

    class SentenceSplitter:  # type: ignore[no-redef]
        """Feed text deltas; get complete sentences back as soon as they end."""

        def __init__(self) -> None:
            self._buffer = ""

        def feed(self, delta: str) -> list[str]:
            self._buffer += delta
            done: list[str] = []
            start = 0
            for match in _END.finditer(self._buffer):
                candidate = self._buffer[start:match.end()]
                if _NO_END.search(candidate):
                    continue
                if candidate.strip():
                    done.append(candidate.strip())
                start = match.end()
            self._buffer = self._buffer[start:]
            return done

        def flush(self) -> list[str]:
            rest, self._buffer = self._buffer.strip(), ""
            return [rest] if rest else []


def split_sentences(text: str) -> list[str]:
    splitter = SentenceSplitter()
    return [*splitter.feed(text), *splitter.flush()]
