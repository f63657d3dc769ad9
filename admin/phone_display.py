"""Caller numbers as people read and dial them.

FreeSWITCH hands numbers over as digits in international form without "+" (``491701234567``).
Shown or dialled like that, a callback from a desk phone or mobile reaches the wrong line, so
the admin shows and links them with "+" (national ``0…`` numbers and short extensions stay).
"""

from __future__ import annotations

from flask import Flask

MIN_INTERNATIONAL_DIGITS = 7


def dialable(number: object) -> str:
    """``491701234567`` → ``+491701234567``; ``0301234``, ``+49…``, ``21`` stay as they are."""
    text = str(number or "").strip()
    if text.isdigit() and len(text) >= MIN_INTERNATIONAL_DIGITS and not text.startswith("0"):
        return "+" + text
    return text


def init_app(app: Flask) -> None:
    app.jinja_env.filters["telefon"] = dialable
