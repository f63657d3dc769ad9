"""Cut a streamed LLM answer into speakable sentences while it streams.

The first sentence goes to TTS as soon as it is certainly complete, so the caller hears the
start of the answer before the rest exists. "Certainly complete" means: a terminator (. ! ? …)
followed by white space and the next character — which tells an abbreviation ("z. B. die"),
an ordinal date ("am 1. Mai") or a decimal ("3.5") from a sentence end. A very long sentence is
cut at its last comma so TTS need not wait for it; Markdown decoration (bullets, ``**``) that a
voice would read out is removed.
"""

from __future__ import annotations

import re

TERMINATORS = ".!?…"
_CLOSERS = "\"'»«“”„)]"
# Tokens before a period that never end a sentence (lower case, without the period).
ABBREVIATIONS = frozenset({
    "dr", "prof", "nr", "str", "tel", "hr", "fr", "st", "ca", "bzw", "ggf", "inkl", "evtl",
    "vgl", "geb", "abs", "art", "bd", "jh", "mio", "mrd", "min", "std", "tsd", "zzgl", "max",
    "mo", "di", "mi", "do", "sa", "so", "jan", "feb", "febr", "mär", "apr", "jun", "jul", "aug",
    "sep", "sept", "okt", "nov", "dez", "mr", "mrs", "ms", "vs",
})
MONTHS = frozenset({
    "januar", "februar", "märz", "april", "mai", "juni", "juli", "august", "september",
    "oktober", "november", "dezember", "jan", "feb", "mär", "apr", "jun", "jul", "aug", "sep",
    "sept", "okt", "nov", "dez",
})
_MARKDOWN = re.compile(r"^\s*(?:[-*•]|\d+[.)]|#+)\s+|\*\*|__|`")


def _clean(sentence: str) -> str:
    return re.sub(r"\s+", " ", _MARKDOWN.sub("", sentence)).strip()


class SentenceSplitter:
    """Feed text deltas, get back the sentences they complete (``feed``), the rest at the end
    (``flush``). One instance per answer; not thread-safe."""

    def __init__(self, *, max_chars: int = 220):
        self.max_chars = max_chars
        self._buffer = ""

    def feed(self, delta: str) -> list[str]:
        self._buffer += delta
        sentences: list[str] = []
        while True:
            cut = self._boundary(self._buffer)
            if cut is None:
                cut = self._long_sentence_cut(self._buffer)
            if cut is None:
                return sentences
            sentence, self._buffer = self._buffer[:cut], self._buffer[cut:].lstrip()
            if cleaned := _clean(sentence):
                sentences.append(cleaned)

    def flush(self) -> list[str]:
        """The text left at the end of the answer, as a last sentence (if any)."""
        rest, self._buffer = self._buffer, ""
        cleaned = _clean(rest)
        return [cleaned] if cleaned else []

    # ------------------------------------------------------------------------------ internals

    def _boundary(self, buf: str) -> int | None:
        """End index of the first complete sentence, or None when none is certain yet."""
        newline = buf.find("\n")
        for i, char in enumerate(buf):
            if newline != -1 and i >= newline:
                return newline + 1  # list items and paragraphs end at a line break
            if char not in TERMINATORS:
                continue
            end = i + 1
            while end < len(buf) and (buf[end] in TERMINATORS or buf[end] in _CLOSERS):
                end += 1
            if end == len(buf):
                return None  # wait: the next character decides
            if not buf[end].isspace():
                continue  # "3.5", "z.B.", "www.example.de"
            start = end
            while start < len(buf) and buf[start].isspace():
                start += 1
            if start == len(buf):
                return None
            if "\n" in buf[end:start]:
                return end
            if buf[start].islower():
                continue  # "z. B. die …", "Das geht ... vielleicht"
            if char == "." and buf[i:end].rstrip(_CLOSERS) == ".":
                verdict = self._period_ends_sentence(buf, i, start)
                if verdict is None:
                    return None
                if not verdict:
                    continue
            return end
        return None

    @staticmethod
    def _period_ends_sentence(buf: str, dot: int, next_start: int) -> bool | None:
        word_start = max(buf.rfind(" ", 0, dot), buf.rfind("\n", 0, dot)) + 1
        before = buf[word_start:dot].lstrip(_CLOSERS + "(")
        if (before.lower() in ABBREVIATIONS or (len(before) == 1 and before.isalpha())
                or re.fullmatch(r"(?:[A-Za-zÄÖÜäöü]{1,3}\.)+[A-Za-zÄÖÜäöü]{1,3}", before)):
            return False
        if before.isdigit():  # "am 1. Mai": an ordinal unless a normal word follows
            match = re.match(r"[\wÄÖÜäöüß]+", buf[next_start:])
            if match is None:
                return True
            if match.end() == len(buf) - next_start:
                return None  # the next word may not be complete yet
            return match.group(0).lower() not in MONTHS
        return True

    def _long_sentence_cut(self, buf: str) -> int | None:
        if len(buf) <= self.max_chars:
            return None
        window = buf[: self.max_chars]
        cut = max(window.rfind(", "), window.rfind("; "), window.rfind(": "))
        if cut < 20:
            cut = window.rfind(" ")
        return cut + 1 if cut > 0 else self.max_chars
