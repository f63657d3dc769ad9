"""The templates' ``telefon`` filter: every page shows a number by the one rule of
``models.phone.dialable`` (E.164 ``+4930…``, extensions as they are)."""

from __future__ import annotations

from flask import Flask

from models.phone import dialable


def init_app(app: Flask) -> None:
    app.jinja_env.filters["telefon"] = dialable
