"""Text normalisation before speech: what a TTS voice should *say* for digits and symbols.

German (full): phone numbers digit by digit in groups ("zwo" as on the phone), dates ("1. Mai",
"01.05.2025"), times ("14:30 Uhr" → "vierzehn Uhr dreißig"), currency ("12,50 €" → "zwölf Euro
fünfzig"), percentages, decimals, numbers and common abbreviations. English (light): numbers,
times, phone numbers, ``%`` and ``&``. Other languages pass through unchanged.

Order matters: abbreviations, then phone numbers (so they are not read as dates or amounts), then
dates, times, currency, and the remaining numbers last.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# ---------------------------------------------------------------------------------- German

_DE_ONES = ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun",
            "zehn", "elf", "zwölf", "dreizehn", "vierzehn", "fünfzehn", "sechzehn", "siebzehn",
            "achtzehn", "neunzehn"]
_DE_TENS = ["", "", "zwanzig", "dreißig", "vierzig", "fünfzig", "sechzig", "siebzig", "achtzig",
            "neunzig"]
_DE_PHONE_DIGITS = ["null", "eins", "zwo", "drei", "vier", "fünf", "sechs", "sieben", "acht",
                    "neun"]
_DE_MONTHS = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
              "September", "Oktober", "November", "Dezember"]
_DE_ABBREVIATIONS = {
    "z. B.": "zum Beispiel", "z.B.": "zum Beispiel", "d. h.": "das heißt", "d.h.": "das heißt",
    "u. a.": "unter anderem", "u.a.": "unter anderem", "bzw.": "beziehungsweise",
    "ca.": "circa", "usw.": "und so weiter", "ggf.": "gegebenenfalls", "inkl.": "inklusive",
    "evtl.": "eventuell", "Nr.": "Nummer", "Dr.": "Doktor", "Prof.": "Professor",
    "Str.": "Straße", "Tel.": "Telefon", "Hr.": "Herr", "min.": "Minuten", "Std.": "Stunden",
    "&": "und",
}
_DE_WEEKDAYS = {"Mo": "Montag", "Di": "Dienstag", "Mi": "Mittwoch", "Do": "Donnerstag",
                "Fr": "Freitag", "Sa": "Samstag", "So": "Sonntag"}
# An ordinal after these words takes the dative/accusative ending ("am ersten Mai").
_DE_ORDINAL_EN = {"am", "vom", "zum", "dem", "den", "im", "beim", "ab", "seit", "bis", "für",
                  "ab dem", "bis zum"}
_DE_ORDINAL_E = {"der", "die", "das"}


def _de_below_100(n: int) -> str:
    if n < 20:
        return _DE_ONES[n]
    tens, ones = divmod(n, 10)
    if ones == 0:
        return _DE_TENS[tens]
    return ("ein" if ones == 1 else _DE_ONES[ones]) + "und" + _DE_TENS[tens]


def _de_below_1000(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    words = ("ein" if hundreds == 1 else _DE_ONES[hundreds]) + "hundert" if hundreds else ""
    return words + (_de_below_100(rest) if rest or not hundreds else "")


def german_cardinal(n: int, *, before_noun: bool = False) -> str:
    """``n`` in German words; ``before_noun`` gives "ein" for 1 ("ein Euro", "ein Uhr")."""
    if n < 0:
        return "minus " + german_cardinal(-n, before_noun=before_noun)
    if n == 1 and before_noun:
        return "ein"
    if n < 1000:
        return _de_below_1000(n)
    parts: list[str] = []
    for value, singular, plural in ((10**9, "eine Milliarde", "Milliarden"),
                                    (10**6, "eine Million", "Millionen")):
        count, n = divmod(n, value)
        if count:
            parts.append(singular if count == 1 else f"{german_cardinal(count)} {plural}")
    thousands, rest = divmod(n, 1000)
    small = ""
    if thousands:
        small = ("ein" if thousands == 1 else _de_below_1000(thousands)) + "tausend"
    if rest:
        small += _de_below_1000(rest)
    if small:
        parts.append(small)
    return " ".join(parts)


def german_ordinal(n: int, ending: str = "e") -> str:
    """Ordinal stem + ``ending`` ("erste", "dritten", "zwanzigster")."""
    stems = {1: "ers", 3: "drit", 7: "sieb", 8: "ach"}
    if n in stems:
        stem = stems[n]
    elif n % 100 < 20 and n < 100:
        stem = german_cardinal(n)
    else:
        stem = german_cardinal(n) + "s"
    return stem + "t" + ending


def german_year(year: int) -> str:
    if 1100 <= year <= 1999:
        century, rest = divmod(year, 100)
        return _de_below_100(century) + "hundert" + (_de_below_100(rest) if rest else "")
    return german_cardinal(year)


def _digits(text: str, words: list[str]) -> str:
    return " ".join(words[int(d)] for d in text if d.isdigit())


def _de_phone(match: re.Match[str]) -> str:
    raw = match.group(0)
    if sum(c.isdigit() for c in raw) < 6:
        return raw
    groups = [g for g in re.split(r"[\s\-/()]+", raw) if g]
    spoken = []
    for group in groups:
        prefix = "plus " if group.startswith("+") else ""
        spoken.append(prefix + _digits(group, _DE_PHONE_DIGITS))
    return ", ".join(spoken)


def _ordinal_ending(before: str) -> str:
    words = before.lower().split()
    last_two = " ".join(words[-2:])
    if (words and words[-1] in _DE_ORDINAL_EN) or last_two in _DE_ORDINAL_EN:
        return "en"
    if words and words[-1] in _DE_ORDINAL_E:
        return "e"
    return "er"


def _de_date(text: str) -> str:
    def spoken(match: re.Match[str], day: int, month: int, year: str | None) -> str:
        ending = _ordinal_ending(text[max(0, match.start() - 12):match.start()])
        words = f"{german_ordinal(day, ending)} {_DE_MONTHS[month - 1]}"
        if year:
            words += " " + german_year(int(year))
        return words

    def numeric(match: re.Match[str]) -> str:
        day, month = int(match.group(1)), int(match.group(2))
        if not (1 <= day <= 31 and 1 <= month <= 12):
            return match.group(0)
        return spoken(match, day, month, match.group(3))

    def named(match: re.Match[str]) -> str:
        day = int(match.group(1))
        if not 1 <= day <= 31:
            return match.group(0)
        month = _DE_MONTHS.index(match.group(2)) + 1
        return spoken(match, day, month, match.group(3))

    months = "|".join(_DE_MONTHS)
    text = re.sub(r"(?<![\d.])(\d{1,2})\.(\d{1,2})\.(\d{4})?(?![\d])", numeric, text)
    return re.sub(rf"(?<![\d.])(\d{{1,2}})\.\s*({months})(?:\s+(\d{{4}}))?\b", named, text)


def _de_time(match: re.Match[str]) -> str:
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 24 or minutes > 59:
        return match.group(0)
    words = f"{german_cardinal(hours, before_noun=True)} Uhr"
    return words + (f" {german_cardinal(minutes)}" if minutes else "")


def _de_money(euros: str, cents: str | None) -> str:
    whole = int(euros.replace(".", ""))
    cent = int((cents or "0").ljust(2, "0")[:2]) if cents and cents != "-" else 0
    if whole == 0 and cent:
        return f"{german_cardinal(cent, before_noun=True)} Cent"
    words = f"{german_cardinal(whole, before_noun=True)} Euro"
    return words + (f" {german_cardinal(cent)}" if cent else "")


def _de_number(match: re.Match[str]) -> str:
    whole, decimals = match.group(1), match.group(2)
    if whole.startswith("0") and len(whole) > 1 or (
            len(whole) >= 7 and "." not in whole and not whole.endswith("000")):
        return _digits(whole, _DE_ONES)  # IDs and codes: digit by digit
    if not decimals and len(whole) == 4 and 1100 <= int(whole) <= 1999:
        return german_year(int(whole))  # a bare 1100–1999 is nearly always a year
    words = german_cardinal(int(whole.replace(".", "")))
    if decimals:
        words += " Komma " + _digits(decimals, _DE_ONES)
    return words


def _replace_abbreviations(text: str, table: dict[str, str]) -> str:
    for short, long in table.items():
        pattern = re.escape(short)
        if short[0].isalpha():
            pattern = r"(?<![\w])" + pattern
        text = re.sub(pattern, long, text)
    return text


def _de_weekdays(text: str) -> str:
    """"Mo.–Fr.", "Sa. 9 Uhr" → weekday names; "Fr. Müller" → "Frau Müller"."""
    days = "|".join(_DE_WEEKDAYS)
    text = re.sub(rf"\b({days})\.?\s*(?:-|–|bis)\s*({days})\b\.?",
                  lambda m: f"{_DE_WEEKDAYS[m.group(1)]} bis {_DE_WEEKDAYS[m.group(2)]}", text)
    text = re.sub(r"\bFr\.(?=\s+[A-ZÄÖÜ][a-zäöüß])(?!\s+(?:und|bis)\b)", "Frau", text)
    return re.sub(rf"\b({days})\.(?=[\s,:]|$)", lambda m: _DE_WEEKDAYS[m.group(1)], text)


def _de_ranges(text: str) -> str:
    """"8–18 Uhr" → "8 Uhr bis 18 Uhr", "3-5 Tage" → "3 bis 5 Tage"."""
    clock = r"\d{1,2}(?:[:.]\d{2})?"
    text = re.sub(rf"(?<![\d,.])({clock})\s*(?:-|–|bis)\s*({clock})\s*Uhr\b",
                  r"\1 Uhr bis \2 Uhr", text)
    return re.sub(r"(?<![\d,.+])(\d{1,3})\s*[-–]\s*(\d{1,3})(?=\s+[A-Za-zÄÖÜäöü])",
                  r"\1 bis \2", text)


_PHONE = re.compile(r"(?<![\w,.:])(?:\+\d|\(0|0)[\d\s\-/()]{4,}\d")
_AMOUNT = r"(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d{1,2}|-))?"


def normalize_german(text: str) -> str:
    text = _replace_abbreviations(text, _DE_ABBREVIATIONS)
    text = _de_weekdays(text)
    text = _PHONE.sub(_de_phone, text)
    text = _de_ranges(text)
    text = _de_date(text)
    text = re.sub(r"(?<![\d,.])(\d{1,2})[:.](\d{2})(?=\s*Uhr\b)\s*Uhr", _de_time, text)
    text = re.sub(r"(?<![\d,.])(\d{1,2}):(\d{2})(?![\d:])", _de_time, text)
    text = re.sub(r"(?<![\d,.])(\d{1,2})\s*Uhr\b",
                  lambda m: f"{german_cardinal(int(m.group(1)), before_noun=True)} Uhr", text)
    text = re.sub(rf"(?<![\d,.]){_AMOUNT}\s*(?:€|EUR\b|Euro\b)",
                  lambda m: _de_money(m.group(1), m.group(2)), text)
    text = re.sub(rf"(?:€|EUR)\s*{_AMOUNT}", lambda m: _de_money(m.group(1), m.group(2)), text)
    text = re.sub(r"(\d)\s*%", r"\1 Prozent", text)
    text = re.sub(r"(?<![\d])(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d+))?(?![\d])", _de_number, text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


# --------------------------------------------------------------------------------- English

_EN_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
            "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
            "eighteen", "nineteen"]
_EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def english_cardinal(n: int) -> str:
    if n < 0:
        return "minus " + english_cardinal(-n)
    if n < 20:
        return _EN_ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _EN_TENS[tens] + (f"-{_EN_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_EN_ONES[hundreds]} hundred" + (f" {english_cardinal(rest)}" if rest else "")
    for value, word in ((10**9, "billion"), (10**6, "million"), (1000, "thousand")):
        if n >= value:
            count, rest = divmod(n, value)
            return f"{english_cardinal(count)} {word}" + (
                f" {english_cardinal(rest)}" if rest else "")
    raise AssertionError("unreachable")


def _en_phone(match: re.Match[str]) -> str:
    raw = match.group(0)
    if sum(c.isdigit() for c in raw) < 6:
        return raw
    groups = [g for g in re.split(r"[\s\-/()]+", raw) if g]
    return ", ".join(("plus " if g.startswith("+") else "") + _digits(g, _EN_ONES)
                     for g in groups)


def _en_time(match: re.Match[str]) -> str:
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 24 or minutes > 59:
        return match.group(0)
    if minutes == 0:
        return f"{english_cardinal(hours)} o'clock"
    return f"{english_cardinal(hours)} {'oh ' if minutes < 10 else ''}{english_cardinal(minutes)}"


_EN_PHONE = re.compile(r"(?<![\w,.])(?:\+\d[\d\s\-/()]{4,}\d|\(?\d{3}\)?[\s.\-]\d{3}[\s.\-]\d{4})"
                       r"(?![\d])")


def normalize_english(text: str) -> str:
    text = text.replace("&", " and ")
    text = _EN_PHONE.sub(_en_phone, text)
    text = re.sub(r"(?<![\d.])(\d{1,2}):(\d{2})(?![\d:])", _en_time, text)
    text = re.sub(r"(\d)\s*%", r"\1 percent", text)
    text = re.sub(r"(?<![\d])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?![\d])",
                  lambda m: english_cardinal(int(m.group(1).replace(",", "")))
                  + (" point " + _digits(m.group(2), _EN_ONES) if m.group(2) else ""), text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


_NORMALIZERS: dict[str, Callable[[str], str]] = {"de": normalize_german, "en": normalize_english}


def normalize(text: str, language: str = "de") -> str:
    """What the voice should say for ``text``; unknown languages pass through."""
    normalizer = _NORMALIZERS.get(language.split("-")[0].lower())
    return normalizer(text) if normalizer else text
