"""Sentence splitting for the agents: the media layer's splitter, also for fixed texts."""

from __future__ import annotations

from media.sentences import SentenceSplitter

__all__ = ["SentenceSplitter", "split_sentences"]


def split_sentences(text: str) -> list[str]:
    """A fixed text as the sentences TTS speaks one by one."""
    splitter = SentenceSplitter()
    return [*splitter.feed(text), *splitter.flush()]
