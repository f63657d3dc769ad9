"""BM25 (Okapi) over passages, on Snowball-German stems: works on every node, no model."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from agents.keywords import stems

K1 = 1.5
B = 0.75


class Bm25Index:
    """Ranks passages for a query. Terms are stemmed without stopwords ("Rechnungen" finds
    "Rechnung"); a query compound also searches the indexed words inside it
    (see `query_terms`)."""

    def __init__(self, texts: Sequence[str], language: str = "de"):
        self.language = language
        self._docs = [Counter(self._terms(t)) for t in texts]
        self._lengths = [sum(d.values()) for d in self._docs]
        self._avg = (sum(self._lengths) / len(self._lengths)) if self._docs else 0.0
        df: Counter[str] = Counter()
        for doc in self._docs:
            df.update(doc.keys())
        n = len(self._docs)
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self._vocabulary = sorted(self._idf, key=len, reverse=True)

    def _terms(self, text: str) -> list[str]:
        return stems(text, self.language)

    def expand(self, term: str) -> set[str]:
        """A query stem and the indexed words it stands for when it is not indexed itself:
        words containing it ("mittwoch" -> "mittwochnachmittag") and words inside it
        ("zahnreinigungstermin" -> "zahnreinig", "termin")."""
        if term in self._idf:
            return {term}
        found = {term}
        if len(term) >= 4:  # "park" -> "parkhaus", "parkplatz"
            found |= {v for v in self._vocabulary if v.startswith(term)}
        if len(term) >= 5:
            found |= {v for v in self._vocabulary if term in v}
        if len(term) >= 8:
            found |= {v for v in self._vocabulary if len(v) >= 4 and v in term}
        return found

    def query_terms(self, query: str) -> list[str]:
        terms: list[str] = []
        for term in self._terms(query):
            terms += sorted(self.expand(term))[:6]
        return terms

    def scores(self, query: str) -> list[float]:
        terms = self.query_terms(query)
        result = []
        for doc, length in zip(self._docs, self._lengths, strict=True):
            score = 0.0
            for term in terms:
                tf = doc.get(term, 0)
                if tf:
                    norm = tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / (self._avg or 1)))
                    score += self._idf[term] * norm
            result.append(score)
        return result

    def coverage(self, query: str, index: int) -> float:
        """IDF-weighted share of the query's stems that occur in passage ``index``: the "do we
        know this at all?" signal, independent of BM25's unbounded scale. A word no passage
        has weighs most ("Bleaching" when nothing mentions it)."""
        terms = set(self._terms(query))
        if not terms:
            return 0.0
        unseen = math.log(1 + (len(self._docs) + 0.5) / 0.5)
        doc = self._docs[index]
        total = found = 0.0
        for term in terms:
            forms = self.expand(term)
            weight = max((self._idf[f] for f in forms if f in self._idf), default=unseen)
            total += weight
            if any(f in doc for f in forms):
                found += weight
        return found / total
