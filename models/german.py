"""German dates, times and durations as the office reads them: the one formatter.

Pure functions of the values they get: a caller converts to the customer's time zone first
(``local``, or the admin's ``admin.formatting.to_local`` which knows the zone of the request).
Spoken dates for the TTS are another job (``media.textnorm``).
"""

from __future__ import annotations

import datetime as dt

WEEKDAYS = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
WEEKDAYS_SHORT = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")


def local(value: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """``value`` in ``zone``; a naive value is UTC (what the database stores)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(zone)


def date(value: dt.date) -> str:
    """``24.12.2026``."""
    return value.strftime("%d.%m.%Y")


def time(value: dt.time | dt.datetime, seconds: bool = False) -> str:
    """``08:00`` (``08:00:05`` with seconds)."""
    return value.strftime("%H:%M:%S" if seconds else "%H:%M")


def date_time(value: dt.datetime, seconds: bool = False) -> str:
    """``24.12.2026, 08:00 Uhr``."""
    return f"{date(value)}, {time(value, seconds)} Uhr"


def day_and_time(value: dt.datetime, today: dt.date) -> str:
    """Short form for lists: "heute, 09:14", "gestern, 17:02", "Mo, 03.11., 08:12", and with
    the year once it is not this year's."""
    clock = time(value)
    if value.date() == today:
        return f"heute, {clock}"
    if value.date() == today - dt.timedelta(days=1):
        return f"gestern, {clock}"
    if value.year == today.year:
        return f"{WEEKDAYS_SHORT[value.weekday()]}, {value:%d.%m.}, {clock}"
    return f"{date(value)}, {clock}"


def next_moment(instant: dt.datetime, now: dt.datetime) -> str:
    """A coming moment: "14:30" today, "Mo 08:00" within a week, else "24.12.2026 08:00"."""
    if instant.date() == now.date():
        return time(instant)
    if dt.timedelta(0) <= instant - now < dt.timedelta(days=6):
        return f"{WEEKDAYS_SHORT[instant.weekday()]} {time(instant)}"
    return f"{date(instant)} {time(instant)}"


def end_moment(until: dt.datetime, now: dt.datetime) -> str:
    """Where something ends, as ``next_moment``; a midnight end is the previous day's "24:00",
    which is what an office means by "Urlaub bis 31.12." (not "bis 01.01. 00:00")."""
    if until.time() != dt.time(0, 0):
        return next_moment(until, now)
    return next_moment(until - dt.timedelta(days=1), now).removesuffix("00:00") + "24:00"


def duration(seconds: float) -> str:
    """How long: "45 Sek.", "2 Min. 05 Sek.", "1 Std. 05 Min.", "2 Tg. 3 Std. 10 Min."."""
    total = max(0, round(seconds))
    minutes, secs = divmod(total, 60)
    if minutes == 0:
        return f"{secs} Sek."
    hours, minutes = divmod(minutes, 60)
    if hours == 0:
        return f"{minutes} Min. {secs:02d} Sek."
    days, hours = divmod(hours, 24)
    text = f"{hours} Std. {minutes:02d} Min."
    return f"{days} Tg. {text}" if days else text
