"""Phone numbers as callers say them: "null eins sieben eins, zwo drei" -> "01712 3".

Whether the digits are a number one can dial is ``models.phone.is_phone_number``."""

from __future__ import annotations

import re

_UNITS = {
    "null": 0, "eins": 1, "zwei": 2, "zwo": 2, "drei": 3, "vier": 4,
    "fünf": 5, "fuenf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9,
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9,
}
_TEENS = {"zehn": 10, "elf": 11, "zwölf": 12, "dreizehn": 13, "vierzehn": 14, "fünfzehn": 15,
          "sechzehn": 16, "siebzehn": 17, "achtzehn": 18, "neunzehn": 19}
_TENS = {"zwanzig": 20, "dreißig": 30, "dreissig": 30, "vierzig": 40, "fünfzig": 50,
         "sechzig": 60, "siebzig": 70, "achtzig": 80, "neunzig": 90}
_TOKEN = re.compile(r"\+|\d+|[a-zäöüß]+", re.IGNORECASE)
_SPLIT_COMPOUND = re.compile(
    r"\b(ein|zwei|drei|vier|fünf|sechs|sieben|acht|neun)\s+und\s+(\w+zig|dreißig)\b")
_COMPOUND = re.compile(r"^(ein|zwei|drei|vier|fünf|sechs|sieben|acht|neun)und(\w+zig|dreißig)$")


def _word_digits(word: str) -> str | None:
    if word in _UNITS:
        return str(_UNITS[word])
    if word in _TEENS:
        return str(_TEENS[word])
    if word in _TENS:
        return str(_TENS[word])
    match = _COMPOUND.match(word)
    if match and match.group(2) in _TENS:
        unit = _UNITS["eins" if match.group(1) == "ein" else match.group(1)]
        return str(_TENS[match.group(2)] + unit)
    if word.startswith("doppel") and word[6:] in _UNITS:  # "doppelnull"
        return str(_UNITS[word[6:]]) * 2
    return None


def digits_from_speech(text: str) -> str:
    """All digits the caller said, in order, as one string ('+' kept at the start)."""
    out: list[str] = []
    joined = _SPLIT_COMPOUND.sub(r"\1und\2", text.lower())  # "neun und vierzig"
    for token in _TOKEN.findall(joined):
        if token == "+" or token == "plus":
            if not out:
                out.append("+")
            continue
        if token.isdigit():
            out.append(token)
            continue
        digits = _word_digits(token)
        if digits is not None:
            out.append(digits)
    return "".join(out)

