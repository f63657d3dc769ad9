"""Phone numbers: the one rule for comparing, showing and checking them, for every layer.

What arrives: FreeSWITCH hands over caller and called numbers as the carrier sends them –
international digits ``491701234567``, ``+491701234567``, ``00491701234567``, national
``01701234567``, a SIP URI ``sip:4930123456@host``, a short extension ``21``, or a word such as
``anonymous`` for a withheld number. The admin types them with spaces, dashes, slashes and
"(0)". The rules (German customer, country code 49):

- compare: ``normalize_number`` gives international digits without "+" (``4930123456``) for
  every spelling of one number; ``same_number`` compares two spellings.
- show: ``dialable`` gives E.164 (``+4930123456``): the same on every page, and what a desk
  phone or mobile dials back correctly (digits without "+" reach the wrong line). Short
  extensions stay as they are; what is no number gives "" (the page says "unterdrückt").
- dial out: ``dial_form`` is what an admin typed for a fallback or target, separators removed
  and "+" kept (a national number stays national: the carrier knows the customer's country).
"""

from __future__ import annotations

import re

DEFAULT_COUNTRY_CODE = "49"
MIN_INTERNATIONAL_DIGITS = 7  # shorter plain digits are internal extensions ("21", "1000")

_SCHEME = re.compile(r"^(?:sips?|tel):", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s\-/().]")
_DIALABLE = re.compile(r"\+?\d{3,15}", re.ASCII)


def dial_form(raw: str) -> str:
    """``+49 (0)30 / 123-456`` → ``+4930123456``; ``030 123456`` → ``030123456``.

    Drops a ``sip:``/``tel:`` scheme, anything from ``@`` or ``;`` on, a "(0)" after an
    international prefix and the separators space - / ( ) . – nothing else changes."""
    text = _SCHEME.sub("", raw.strip())
    text = re.split(r"[@;]", text, maxsplit=1)[0]
    if text.startswith(("+", "00")):
        text = text.replace("(0)", "")
    return _SEPARATORS.sub("", text)


def is_phone_number(raw: object) -> bool:
    """Whether ``raw`` is a number one can dial: 3–15 digits, optionally after "+"."""
    return isinstance(raw, str) and bool(_DIALABLE.fullmatch(dial_form(raw)))


def normalize_number(raw: str, country_code: str = DEFAULT_COUNTRY_CODE) -> str:
    """Digits in international form without "+", so every spelling of one number compares equal.

    "+<cc>…" → "<cc>…", "00<cc>…" → "<cc>…", "0…" (national) → "<country_code>…", and plain
    digits stay as they are (already international, or a short internal number such as "1000").
    Anything that is not a phone number after ``dial_form`` (letters, "*", "#", empty) gives "".
    For the configured "4930123456": "+4930123456", "004930123456", "4930123456", "030123456"
    and "+49 (0)30 123456" all give "4930123456".
    """
    text = dial_form(raw)
    if text.startswith("+"):
        digits = text[1:]
    elif text.startswith("00"):
        digits = text[2:]
    elif text.startswith("0"):
        digits = country_code + text[1:]
    else:
        digits = text
    return digits if digits.isdigit() and digits.isascii() else ""


def same_number(a: str, b: str) -> bool:
    """Whether two spellings name one number (a called ``030…`` is the configured ``+4930…``)."""
    wanted = normalize_number(a)
    return bool(wanted) and normalize_number(b) == wanted


def dialable(number: object) -> str:
    """How a person reads and dials ``number``: ``030 123456``, ``0049…``, ``4930123456`` →
    ``+4930123456``; an extension ``21`` stays; ``anonymous`` or "" gives ""."""
    text = dial_form(str(number or ""))
    digits = normalize_number(text)
    if not digits:
        return ""
    if text.startswith("0") or text.startswith("+") or len(digits) >= MIN_INTERNATIONAL_DIGITS:
        return "+" + digits
    return digits


def masked_number(number: str) -> str:
    """``491701234567`` → ``+4917…67``: enough to tell callers apart in the audit log."""
    digits = normalize_number(number)
    if len(digits) < 6:
        return "…"
    return f"+{digits[:4]}…{digits[-2:]}"


def search_spellings(text: str, country_code: str = DEFAULT_COUNTRY_CODE) -> set[str]:
    """The digit strings a stored number containing what was typed may show: as typed, in
    international form and in national form (``030 777`` finds ``4930777…`` and ``030777…``)."""
    digits = re.sub(r"\D", "", text)
    found = {digits} if digits else set()
    international = normalize_number(text, country_code)
    if international:
        found.add(international)
        if international.startswith(country_code) and len(international) > len(country_code):
            found.add("0" + international[len(country_code):])
    return found
