"""German dates and times in the customer's time zone (the DB holds naive UTC)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, g

from models import CustomerSettings, db

DEFAULT_TZ = "Europe/Berlin"
WEEKDAYS = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
WEEKDAYS_SHORT = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        datum=format_date, zeit=format_time, datumzeit=format_datetime, kurzzeit=format_relative,
        dauer=format_duration,
    )
    app.jinja_env.globals.update(WEEKDAYS=WEEKDAYS, WEEKDAYS_SHORT=WEEKDAYS_SHORT)


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
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(customer_tz())


def local_now() -> dt.datetime:
    return dt.datetime.now(customer_tz())


def local_day_start_utc(day: dt.date) -> dt.datetime:
    """Naive UTC of local midnight at the start of ``day`` (for date filters)."""
    local = dt.datetime.combine(day, dt.time(), tzinfo=customer_tz())
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def format_date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = to_local(value)
    return value.strftime("%d.%m.%Y")


def format_time(value: dt.datetime | dt.time | None, seconds: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = to_local(value)
    return value.strftime("%H:%M:%S" if seconds else "%H:%M")


def format_datetime(value: dt.datetime | None, seconds: bool = False) -> str:
    if value is None:
        return ""
    local = to_local(value)
    return local.strftime("%d.%m.%Y, %H:%M:%S" if seconds else "%d.%m.%Y, %H:%M") + " Uhr"


def format_relative(value: dt.datetime | None) -> str:
    """Short form for cards: "heute, 09:14", "gestern, 17:02", "Mo, 03.11., 08:12"."""
    if value is None:
        return ""
    local = to_local(value)
    today = local_now().date()
    clock = local.strftime("%H:%M")
    if local.date() == today:
        return f"heute, {clock}"
    if local.date() == today - dt.timedelta(days=1):
        return f"gestern, {clock}"
    if local.year == today.year:
        return f"{WEEKDAYS_SHORT[local.weekday()]}, {local.strftime('%d.%m.')}, {clock}"
    return f"{local.strftime('%d.%m.%Y')}, {clock}"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    total = max(0, round(seconds))
    minutes, secs = divmod(total, 60)
    if minutes == 0:
        return f"{secs} Sek."
    return f"{minutes} Min. {secs:02d} Sek."
