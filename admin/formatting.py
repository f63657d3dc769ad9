"""The templates' date filters: ``models.german`` in the customer's time zone (the DB holds
naive UTC)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, g

from models import CustomerSettings, db, german

DEFAULT_TZ = "Europe/Berlin"


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        datum=format_date, zeit=format_time, datumzeit=format_datetime, kurzzeit=format_relative,
        dauer=format_duration,
    )
    app.jinja_env.globals.update(WEEKDAYS=german.WEEKDAYS, WEEKDAYS_SHORT=german.WEEKDAYS_SHORT)


def customer_tz() -> ZoneInfo:
    """The customer's zone, read once per request (without creating the settings row)."""
    if "customer_tz" not in g:
        row = db.session.get(CustomerSettings, 1)
        try:
            g.customer_tz = ZoneInfo(row.timezone if row and row.timezone else DEFAULT_TZ)
        except (ZoneInfoNotFoundError, ValueError):
            g.customer_tz = ZoneInfo(DEFAULT_TZ)
    return g.customer_tz


def to_local(value: dt.datetime) -> dt.datetime:
    return german.local(value, customer_tz())


def local_now() -> dt.datetime:
    return dt.datetime.now(customer_tz())


def local_day_start_utc(day: dt.date) -> dt.datetime:
    """Naive UTC of local midnight at the start of ``day`` (for date filters)."""
    local = dt.datetime.combine(day, dt.time(), tzinfo=customer_tz())
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def format_date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    return german.date(to_local(value) if isinstance(value, dt.datetime) else value)


def format_time(value: dt.datetime | dt.time | None, seconds: bool = False) -> str:
    if value is None:
        return ""
    return german.time(to_local(value) if isinstance(value, dt.datetime) else value, seconds)


def format_datetime(value: dt.datetime | None, seconds: bool = False) -> str:
    return "" if value is None else german.date_time(to_local(value), seconds)


def format_relative(value: dt.datetime | None) -> str:
    """Short form for cards: "heute, 09:14", "gestern, 17:02", "Mo, 03.11., 08:12"."""
    return "" if value is None else german.day_and_time(to_local(value), local_now().date())


def format_duration(seconds: float | None) -> str:
    return "" if seconds is None else german.duration(seconds)
