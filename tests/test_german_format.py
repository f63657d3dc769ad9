"""The one German formatter (models.german): what the office reads for dates, times, ends and
durations, the same on every page."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from models import german

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


def test_dates_and_times_read_the_german_way() -> None:
    moment = berlin(2026, 12, 24, 8, 5, 9)
    assert german.date(moment) == "24.12.2026"
    assert german.time(moment) == "08:05" and german.time(moment, seconds=True) == "08:05:09"
    assert german.date_time(moment) == "24.12.2026, 08:05 Uhr"
    assert german.local(dt.datetime(2026, 1, 5, 7, 30), BERLIN) == berlin(2026, 1, 5, 8, 30)


def test_lists_say_heute_gestern_and_the_weekday() -> None:
    today = dt.date(2026, 11, 5)  # a Thursday
    assert german.day_and_time(berlin(2026, 11, 5, 9, 14), today) == "heute, 09:14"
    assert german.day_and_time(berlin(2026, 11, 4, 17, 2), today) == "gestern, 17:02"
    assert german.day_and_time(berlin(2026, 11, 2, 8, 12), today) == "Mo, 02.11., 08:12"
    assert german.day_and_time(berlin(2025, 11, 3, 8, 12), today) == "03.11.2025, 08:12"


def test_a_coming_moment_and_a_midnight_end() -> None:
    now = berlin(2026, 6, 1, 9)
    assert german.next_moment(berlin(2026, 6, 1, 12), now) == "12:00"
    assert german.next_moment(berlin(2026, 6, 3, 8), now) == "Mi 08:00"
    assert german.next_moment(berlin(2026, 12, 24, 8), now) == "24.12.2026 08:00"
    assert german.end_moment(berlin(2026, 6, 3, 0, 0), now) == "Di 24:00"
    assert german.end_moment(berlin(2027, 1, 1, 0, 0), now) == "31.12.2026 24:00"


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 Sek."), (45.4, "45 Sek."), (125, "2 Min. 05 Sek."), (3900, "1 Std. 05 Min."),
    (2 * 86400 + 3 * 3600 + 600, "2 Tg. 3 Std. 10 Min."), (-3, "0 Sek."),
])
def test_durations(seconds: float, text: str) -> None:
    assert german.duration(seconds) == text
