"""Keyword mode: fuzzy matching of a transcript against configured keywords, without an LLM.

German-aware: case and umlauts are folded, words are stemmed (Snowball German, so "Rechnungen"
matches "Rechnung"), compounds match their parts ("Rechnungsfrage" contains "rechnung"), and
small typos or mis-transcriptions still match ("Rechnug").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

import snowballstemmer

_FOLD = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss"})
_WORD = re.compile(r"[a-zA-ZäöüÄÖÜß0-9]+")
_STEMMERS = {"de": snowballstemmer.stemmer("german"), "en": snowballstemmer.stemmer("english")}

MIN_SCORE = 0.8  # below this a keyword does not count as heard
STOPWORDS = frozenset(
    "der die das den dem des ein eine einen einem einer und oder aber ich sie wir mit mich mir "
    "ihnen ihr bitte zu zum zur fur von vom bei im in an am auf ist bin sind hab habe haben "
    "mochte mochten will wurde gern gerne ja nein nicht kein keine so da hallo guten tag "
    "wann wie was wo wer welche welcher welches welchen warum wieso weshalb wieviel kann "
    "kannst konnen konnte gibt es muss mussen soll sollte darf durfen man mal noch auch schon "
    "denn eigentlich uns euch ihre ihren ihrem sein seine bei beim ab bis um als wenn "
    "mein meine meinen meinem meiner dein deine hat hatte hatten wird werden wurde furs aus "
    "nach gegen tun mache machen macht selbst sich vorm vom dann dort hier jetzt heute etwas "
    "einen einem einer dies diese dieser dieses jemand ob sehr viel viele "
    "the a an and or i you we to of for with is am are please my me what when where how "
    "do does can".split()
)


@lru_cache(maxsize=4096)
def stem(word: str, language: str = "de") -> str:
    folded = word.lower().translate(_FOLD)
    return _STEMMERS.get(language, _STEMMERS["de"]).stemWord(folded)


def stems(text: str, language: str = "de", *, drop_stopwords: bool = True) -> list[str]:
    words = [w.lower().translate(_FOLD) for w in _WORD.findall(text)]
    return [stem(w, language) for w in words if not (drop_stopwords and w in STOPWORDS)]


def _word_score(keyword_stem: str, heard: Sequence[str]) -> float:
    best = 0.0
    for word in heard:
        if word == keyword_stem:
            return 1.0
        if len(keyword_stem) >= 5 and keyword_stem in word:
            best = max(best, 0.9)  # part of a compound
            continue
        if (len(keyword_stem) >= 4 and abs(len(word) - len(keyword_stem)) <= 2
                and word[0] == keyword_stem[0]):  # mis-heard words keep their first sound
            ratio = SequenceMatcher(None, keyword_stem, word).ratio()
            if ratio >= MIN_SCORE:
                best = max(best, ratio * 0.95)
    return best


def keyword_score(keyword: str, heard: Sequence[str], language: str = "de") -> float:
    """How well a (possibly multi-word) keyword occurs in the heard stems, 0..1."""
    parts = stems(keyword, language)
    if not parts:
        return 0.0
    scores = [_word_score(p, heard) for p in parts]
    return 0.0 if min(scores) < MIN_SCORE else sum(scores) / len(scores)


@dataclass(frozen=True)
class Match:
    key: str
    score: float


def best_match(text: str, candidates: dict[str, Sequence[str]], language: str = "de"
               ) -> Match | None:
    """The candidate whose keywords occur best in ``text``; None when none does or two tie."""
    heard = stems(text, language)
    if not heard:
        return None
    scored = sorted(
        (Match(key, max((keyword_score(k, heard, language) for k in words), default=0.0))
         for key, words in candidates.items()),
        key=lambda m: m.score, reverse=True,
    )
    if not scored or scored[0].score < MIN_SCORE:
        return None
    if len(scored) > 1 and scored[1].score >= scored[0].score - 0.02:
        return None  # ambiguous: ask again rather than guess
    return scored[0]


_YES = {"ja", "jawohl", "genau", "richtig", "stimmt", "korrekt", "passt", "yes", "yeah",
        "correct", "right", "jep", "jo", "klar", "gerne"}
_NO = {"nein", "falsch", "no", "nope", "wrong", "ne", "nee"}
_NEGATION = {"nicht", "not", "isnt"}


def yes_or_no(text: str) -> bool | None:
    """True for a yes, False for a no ("stimmt nicht" is a no), None when unclear."""
    words = {w.lower().translate(_FOLD) for w in _WORD.findall(text)}
    yes, no = bool(words & _YES), bool(words & _NO)
    if yes and words & _NEGATION:
        yes, no = False, True
    if yes == no:
        return None
    return yes


_GOODBYE = re.compile(
    r"\b(tschüss|tschüs|auf wiederhören|auf wiedersehen|wiederhören|das war alles|das wars|"
    r"das war's|bye|goodbye|that's all)\b", re.IGNORECASE)


def is_goodbye(text: str) -> bool:
    return bool(_GOODBYE.search(text))


_HUMAN = re.compile(
    r"\b(mit (jemandem|einem menschen|einer person|einem mitarbeiter|einer mitarbeiterin|"
    r"einem echten menschen|ihrem kollegen|ihrer kollegin)|(echten|richtigen) menschen|"
    r"mitarbeiter(in)? sprechen|person sprechen|kein(en)? (roboter|computer|bot)|"
    r"speak to (someone|a person|a human)|real person|human being)\b", re.IGNORECASE)


def wants_human(text: str) -> bool:
    """The caller asks for a person ("Kann ich bitte mit jemandem sprechen?")."""
    return bool(_HUMAN.search(text))
