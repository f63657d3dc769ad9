"""Time-window resolution: which window (start agent) answers a number at a given instant."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from models import (
    Agent,
    CustomerSettings,
    PhoneNumber,
    TimeWindow,
    WindowPeriod,
    create_db_app,
    db,
    recording_policy,
    upgrade_schema,
)
from models.german import end_moment
from models.timewindows import (
    Period,
    WindowSpec,
    active_windows,
    describe_period,
    explain,
    local_wall_time,
    next_change,
    resolve_for_number,
    resolve_window,
    timeline,
    validate_window,
    window_spec,
)

BERLIN = ZoneInfo("Europe/Berlin")
MO, DI, MI, DO, FR, SA, SO = range(7)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def berlin(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=BERLIN, fold=fold)


def weekly(wid: int, name: str, agent: int, *periods: tuple[int | None, str, str],
           priority: int = 0) -> WindowSpec:
    return WindowSpec(
        id=wid, name=name, kind="weekly", agent_id=agent, priority=priority,
        periods=tuple(Period(d, time.fromisoformat(s), time.fromisoformat(e))
                      for d, s, e in periods),
    )


def dated(wid: int, name: str, agent: int, first: date, last: date,
          *periods: tuple[int | None, str, str], priority: int = 0) -> WindowSpec:
    return WindowSpec(
        id=wid, name=name, kind="date", agent_id=agent, priority=priority,
        date_from=first, date_to=last,
        periods=tuple(Period(d, time.fromisoformat(s), time.fromisoformat(e))
                      for d, s, e in periods),
    )


def always(wid: int = 99, agent: int = 99, name: str = "Immer") -> WindowSpec:
    return WindowSpec(id=wid, name=name, kind="immer", agent_id=agent)


def name_at(windows: list[WindowSpec], at: datetime) -> str | None:
    window = resolve_window(windows, at)
    return window.name if window else None


OFFICE = weekly(
    1, "Büro", 1,
    *[(d, "08:00", "12:00") for d in range(MO, SA)],
    *[(d, "13:00", "17:00") for d in range(MO, SA)],
)


# ---------------------------------------------------------------- basic coverage and boundaries


def test_no_window_gives_none() -> None:
    assert resolve_window([], utc(2026, 6, 1, 10)) is None


def test_immer_window_answers_around_the_clock() -> None:
    windows = [always()]
    for hour in range(24):
        assert name_at(windows, utc(2026, 6, 7, hour, 30)) == "Immer"


def test_periods_are_end_exclusive() -> None:
    windows = [weekly(1, "Vormittag", 1, (MO, "08:00", "12:00"))]
    assert name_at(windows, berlin(2026, 6, 1, 7, 59, 59)) is None
    assert name_at(windows, berlin(2026, 6, 1, 8, 0)) == "Vormittag"
    assert name_at(windows, berlin(2026, 6, 1, 11, 59, 59, 999999)) == "Vormittag"
    assert name_at(windows, berlin(2026, 6, 1, 12, 0)) is None


def test_lunch_break_between_two_periods_of_a_day() -> None:
    windows = [OFFICE]
    monday = (2026, 6, 1)
    assert name_at(windows, berlin(*monday, 11, 59, 59)) == "Büro"
    assert name_at(windows, berlin(*monday, 12, 0)) is None
    assert name_at(windows, berlin(*monday, 12, 59, 59)) is None
    assert name_at(windows, berlin(*monday, 13, 0)) == "Büro"
    assert name_at(windows, berlin(*monday, 17, 0)) is None
    assert name_at(windows, berlin(2026, 6, 6, 10, 0)) is None  # Saturday


def test_lunch_break_reaches_the_immer_window() -> None:
    windows = [OFFICE, always(name="Voicemail")]
    assert name_at(windows, berlin(2026, 6, 1, 12, 30)) == "Voicemail"
    assert name_at(windows, berlin(2026, 6, 1, 13, 30)) == "Büro"


def test_whole_day_period_covers_midnight_to_midnight() -> None:
    windows = [weekly(1, "Montag", 1, (MO, "00:00", "00:00"))]
    assert name_at(windows, berlin(2026, 5, 31, 23, 59, 59)) is None  # Sunday
    assert name_at(windows, berlin(2026, 6, 1, 0, 0)) == "Montag"
    assert name_at(windows, berlin(2026, 6, 1, 23, 59, 59)) == "Montag"
    assert name_at(windows, berlin(2026, 6, 2, 0, 0)) is None


def test_period_ending_at_midnight_covers_the_last_second_only() -> None:
    windows = [weekly(1, "Abend", 1, (MO, "18:00", "00:00"))]
    assert name_at(windows, berlin(2026, 6, 1, 23, 59, 59)) == "Abend"
    assert name_at(windows, berlin(2026, 6, 2, 0, 0)) is None
    assert name_at(windows, berlin(2026, 6, 1, 17, 59, 59)) is None


def test_friday_night_period_covers_saturday_morning() -> None:
    windows = [weekly(1, "Nacht", 1, (FR, "22:00", "06:00"))]
    assert name_at(windows, berlin(2026, 6, 5, 21, 59, 59)) is None
    assert name_at(windows, berlin(2026, 6, 5, 22, 0)) == "Nacht"
    assert name_at(windows, berlin(2026, 6, 6, 0, 0)) == "Nacht"
    assert name_at(windows, berlin(2026, 6, 6, 5, 59, 59)) == "Nacht"
    assert name_at(windows, berlin(2026, 6, 6, 6, 0)) is None
    assert name_at(windows, berlin(2026, 6, 6, 22, 30)) is None  # Saturday night is not Friday
    assert name_at(windows, berlin(2026, 6, 5, 3, 0)) is None  # Friday early = Thursday night


def test_sunday_night_period_wraps_into_monday() -> None:
    windows = [weekly(1, "Notdienst", 1, (SO, "22:00", "06:00"))]
    assert name_at(windows, berlin(2026, 6, 7, 22, 0)) == "Notdienst"
    assert name_at(windows, berlin(2026, 6, 8, 0, 0)) == "Notdienst"  # Monday
    assert name_at(windows, berlin(2026, 6, 8, 5, 59, 59)) == "Notdienst"
    assert name_at(windows, berlin(2026, 6, 8, 6, 0)) is None
    assert name_at(windows, berlin(2026, 6, 9, 3, 0)) is None  # Tuesday morning
    assert next_change(windows, berlin(2026, 6, 8, 1, 0)) == berlin(2026, 6, 8, 6, 0)


def test_weekday_none_in_a_weekly_window_means_every_day() -> None:
    windows = [weekly(1, "Täglich", 1, (None, "09:00", "10:00"))]
    for day in range(1, 8):
        assert name_at(windows, berlin(2026, 6, day, 9, 30)) == "Täglich"
        assert name_at(windows, berlin(2026, 6, day, 10, 0)) is None


def test_time_zone_of_the_customer_decides() -> None:
    windows = [weekly(1, "Büro", 1, (MO, "08:00", "17:00"))]
    at = utc(2026, 6, 1, 12, 0)  # 14:00 in Berlin, 08:00 in New York, 21:00 in Tokyo
    assert resolve_window(windows, at, "Europe/Berlin") is not None
    assert resolve_window(windows, at, ZoneInfo("America/New_York")) is not None
    assert resolve_window(windows, at, "Asia/Tokyo") is None


def test_naive_datetime_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        resolve_window([always()], datetime(2026, 6, 1, 10, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        next_change([always()], datetime(2026, 6, 1, 10, 0))


def test_unknown_time_zone_is_rejected() -> None:
    with pytest.raises(ValueError, match="Unbekannte Zeitzone"):
        resolve_window([always()], utc(2026, 6, 1), "Europe/Gotham")


# ---------------------------------------------------------------- DST


def test_spring_forward_night_shift_is_one_hour_shorter() -> None:
    """2027-03-28: 02:00 CET jumps to 03:00 CEST (01:00 UTC)."""
    windows = [weekly(1, "Nacht", 1, (SA, "22:00", "06:00")), always(name="Tag")]
    assert name_at(windows, utc(2027, 3, 28, 0, 59, 59)) == "Nacht"  # 01:59:59 CET
    assert name_at(windows, utc(2027, 3, 28, 1, 0, 0)) == "Nacht"  # 03:00 CEST
    assert name_at(windows, utc(2027, 3, 28, 3, 59, 59)) == "Nacht"  # 05:59:59 CEST
    assert name_at(windows, utc(2027, 3, 28, 4, 0, 0)) == "Tag"  # 06:00 CEST
    start = utc(2027, 3, 27, 21, 0)  # 22:00 CET
    assert name_at(windows, start) == "Nacht"
    end = next_change(windows, start)
    assert end == utc(2027, 3, 28, 4, 0)
    assert end - start == timedelta(hours=7)  # eight wall-clock hours, seven real ones


def test_spring_forward_period_inside_the_gap_starts_at_the_jump() -> None:
    windows = [weekly(1, "Früh", 1, (SO, "02:30", "04:00"))]
    assert name_at(windows, utc(2027, 3, 28, 0, 59, 59)) is None  # 01:59:59 CET
    assert name_at(windows, utc(2027, 3, 28, 1, 0)) == "Früh"  # 03:00 CEST: past 02:30
    assert name_at(windows, utc(2027, 3, 28, 2, 0)) is None  # 04:00 CEST
    assert next_change(windows, utc(2027, 3, 28, 0, 30)) == utc(2027, 3, 28, 1, 0)


def test_spring_forward_period_entirely_in_the_gap_never_answers() -> None:
    windows = [weekly(1, "Lücke", 1, (SO, "02:00", "03:00"))]
    instant = utc(2027, 3, 27, 23, 0)
    while instant < utc(2027, 3, 28, 3, 0):
        assert name_at(windows, instant) is None
        instant += timedelta(minutes=1)
    # a week later the same period exists again
    assert name_at(windows, berlin(2027, 4, 4, 2, 30)) == "Lücke"


def test_fall_back_repeated_hour_is_covered_twice() -> None:
    """2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00 UTC); 02:00–03:00 happens twice."""
    windows = [weekly(1, "Wartung", 1, (SO, "02:00", "03:00"))]
    assert name_at(windows, utc(2026, 10, 24, 23, 59, 59)) is None  # 01:59:59 CEST
    assert name_at(windows, utc(2026, 10, 25, 0, 0)) == "Wartung"  # 02:00 CEST
    assert name_at(windows, utc(2026, 10, 25, 0, 59, 59)) == "Wartung"  # 02:59:59 CEST
    assert name_at(windows, utc(2026, 10, 25, 1, 0)) == "Wartung"  # 02:00 CET
    assert name_at(windows, utc(2026, 10, 25, 1, 59, 59)) == "Wartung"  # 02:59:59 CET
    assert name_at(windows, utc(2026, 10, 25, 2, 0)) is None  # 03:00 CET
    assert next_change(windows, utc(2026, 10, 25, 0, 10)) == utc(2026, 10, 25, 2, 0)


def test_fall_back_short_period_switches_on_again_in_the_repeated_hour() -> None:
    windows = [weekly(1, "Kurz", 1, (SO, "02:00", "02:30")), always(name="Sonst")]
    night = (2026, 10, 25)
    assert name_at(windows, berlin(*night, 2, 15, fold=0)) == "Kurz"
    assert name_at(windows, berlin(*night, 2, 45, fold=0)) == "Sonst"
    assert name_at(windows, berlin(*night, 2, 15, fold=1)) == "Kurz"
    back = next_change(windows, utc(*night, 0, 40))
    assert back is not None and back.astimezone(UTC) == utc(*night, 1, 0)  # 02:00 CET again
    assert (back.hour, back.fold) == (2, 1)
    segments = timeline(windows, utc(*night, 0, 0), utc(*night, 2, 0))
    assert [(s.start.astimezone(UTC), s.window.name) for s in segments] == [
        (utc(*night, 0, 0), "Kurz"),
        (utc(*night, 0, 30), "Sonst"),
        (utc(*night, 1, 0), "Kurz"),
        (utc(*night, 1, 30), "Sonst"),
    ]


def test_fall_back_night_shift_is_one_hour_longer() -> None:
    windows = [weekly(1, "Nacht", 1, (SA, "22:00", "06:00"))]
    start = utc(2026, 10, 24, 20, 0)  # 22:00 CEST
    end = next_change(windows, start)
    assert end == utc(2026, 10, 25, 5, 0)  # 06:00 CET
    assert end - start == timedelta(hours=9)


def _minute_by_minute(windows: list[WindowSpec], start: datetime, end: datetime) -> Iterator[
        tuple[datetime, str | None]]:
    previous: str | None = "<start>"
    instant = start
    while instant < end:
        current = name_at(windows, instant)
        if current != previous:
            yield instant, current
            previous = current
        instant += timedelta(minutes=1)


@pytest.mark.parametrize("night", [(2027, 3, 27), (2026, 10, 24)], ids=["spring", "fall"])
def test_timeline_matches_brute_force_over_dst_weekends(night: tuple[int, int, int]) -> None:
    windows = [
        weekly(1, "Nacht", 1, (SA, "22:00", "06:00")),
        weekly(2, "Früh", 2, (SO, "02:30", "02:45"), (SO, "01:15", "03:10")),
        weekly(3, "Kurz", 3, (SO, "02:10", "02:20"), priority=5),
        weekly(5, "Sprung", 5, (SO, "02:40", "02:50"), (SO, "02:55", "05:00"), priority=1),
        dated(4, "Sonntag", 4, date(*night) + timedelta(days=1), date(*night) + timedelta(days=1),
              (None, "09:00", "10:00")),
        always(),
    ]
    start = utc(*night, 12, 0)
    end = start + timedelta(days=2)
    expected = list(_minute_by_minute(windows, start, end))
    got = [(s.start.astimezone(UTC), s.window.name if s.window else None)
           for s in timeline(windows, start, end)]
    assert got == expected


# ---------------------------------------------------------------- date windows and precedence


def test_date_window_without_periods_covers_whole_days() -> None:
    windows = [OFFICE, dated(2, "Weihnachten", 2, date(2026, 12, 24), date(2026, 12, 26))]
    assert name_at(windows, berlin(2026, 12, 23, 23, 59, 59)) is None
    assert name_at(windows, berlin(2026, 12, 24, 0, 0)) == "Weihnachten"
    assert name_at(windows, berlin(2026, 12, 24, 10, 0)) == "Weihnachten"  # beats Büro
    assert name_at(windows, berlin(2026, 12, 26, 23, 59, 59)) == "Weihnachten"
    assert name_at(windows, berlin(2026, 12, 27, 0, 0)) is None


def test_date_window_with_periods_covers_only_those_times() -> None:
    windows = [OFFICE, always(name="Voicemail"),
               dated(2, "Heiligabend kurz", 2, date(2026, 12, 24), date(2026, 12, 24),
                     (None, "08:00", "12:00"))]
    assert name_at(windows, berlin(2026, 12, 24, 9, 0)) == "Heiligabend kurz"
    assert name_at(windows, berlin(2026, 12, 24, 14, 0)) == "Büro"  # a Thursday afternoon
    assert name_at(windows, berlin(2026, 12, 23, 9, 0)) == "Büro"


def test_date_window_period_on_a_weekday_only_on_that_weekday_in_range() -> None:
    windows = [dated(1, "Samstagsdienst", 1, date(2026, 7, 1), date(2026, 7, 31),
                     (SA, "09:00", "13:00"))]
    assert name_at(windows, berlin(2026, 7, 4, 10, 0)) == "Samstagsdienst"  # Saturday
    assert name_at(windows, berlin(2026, 7, 5, 10, 0)) is None  # Sunday
    assert name_at(windows, berlin(2026, 8, 1, 10, 0)) is None  # Saturday after the range


def test_date_window_overnight_period_runs_into_the_day_after_the_range() -> None:
    windows = [dated(1, "Feiertagsnacht", 1, date(2026, 12, 24), date(2026, 12, 26),
                     (None, "20:00", "02:00"))]
    assert name_at(windows, berlin(2026, 12, 24, 1, 0)) is None  # night before the range
    assert name_at(windows, berlin(2026, 12, 24, 20, 0)) == "Feiertagsnacht"
    assert name_at(windows, berlin(2026, 12, 27, 1, 59, 59)) == "Feiertagsnacht"
    assert name_at(windows, berlin(2026, 12, 27, 2, 0)) is None
    assert name_at(windows, berlin(2026, 12, 27, 20, 0)) is None


def test_invalid_date_windows_cover_nothing() -> None:
    windows = [
        WindowSpec(1, "Ohne Daten", "date", 1),
        dated(2, "Rückwärts", 2, date(2026, 12, 31), date(2026, 12, 1)),
        WindowSpec(3, "Unbekannt", "monthly", 3),
    ]
    assert resolve_window(windows, berlin(2026, 12, 15, 12)) is None


def test_date_beats_weekly_beats_immer_whatever_the_priority() -> None:
    low_date = dated(3, "Feiertag", 3, date(2026, 6, 1), date(2026, 6, 1), priority=-5)
    high_weekly = weekly(2, "Büro", 2, (MO, "00:00", "00:00"), priority=100)
    high_immer = WindowSpec(1, "Immer", "immer", 1, priority=1000)
    at = berlin(2026, 6, 1, 10)
    assert name_at([high_immer, high_weekly, low_date], at) == "Feiertag"
    assert name_at([high_immer, high_weekly], at) == "Büro"
    assert [w.name for w in active_windows([high_immer, low_date, high_weekly], at)] == [
        "Feiertag", "Büro", "Immer"]


def test_inside_a_kind_priority_then_shorter_range_then_lower_id() -> None:
    at = berlin(2026, 8, 15, 10)
    vacation = dated(5, "Urlaub", 5, date(2026, 8, 1), date(2026, 8, 31))
    holiday = dated(7, "Mariä Himmelfahrt", 7, date(2026, 8, 15), date(2026, 8, 15))
    assert name_at([vacation, holiday], at) == "Mariä Himmelfahrt"  # shorter range
    urgent_vacation = dated(5, "Urlaub", 5, date(2026, 8, 1), date(2026, 8, 31), priority=1)
    assert name_at([holiday, urgent_vacation], at) == "Urlaub"  # priority first
    twin_a = dated(9, "Zwilling 9", 9, date(2026, 8, 15), date(2026, 8, 15))
    twin_b = dated(4, "Zwilling 4", 4, date(2026, 8, 15), date(2026, 8, 15))
    assert name_at([twin_a, twin_b], at) == "Zwilling 4"  # lower id
    assert name_at([twin_b, twin_a], at) == "Zwilling 4"  # independent of input order


def test_overlapping_weekly_windows_higher_priority_wins_only_where_it_applies() -> None:
    team = weekly(1, "Team", 1, (MO, "08:00", "17:00"))
    meeting = weekly(2, "Besprechung", 2, (MO, "10:00", "11:00"), priority=1)
    assert name_at([team, meeting], berlin(2026, 6, 1, 9, 59)) == "Team"
    assert name_at([team, meeting], berlin(2026, 6, 1, 10, 0)) == "Besprechung"
    assert name_at([team, meeting], berlin(2026, 6, 1, 11, 0)) == "Team"


# ---------------------------------------------------------------- next change / explain


def test_next_change_follows_the_agent_not_the_window() -> None:
    morning = weekly(1, "Vormittag", 7, (MO, "08:00", "12:00"))
    afternoon = weekly(2, "Nachmittag", 7, (MO, "12:00", "17:00"))
    windows = [morning, afternoon]
    at = berlin(2026, 6, 1, 9)
    assert next_change(windows, at) == berlin(2026, 6, 1, 17)
    assert next_change(windows, at, by="window") == berlin(2026, 6, 1, 12)
    assert next_change(windows, at).tzinfo == BERLIN


def test_timeline_has_no_empty_segment_when_a_change_falls_on_the_end() -> None:
    segments = timeline([OFFICE], berlin(2026, 6, 1, 6), berlin(2026, 6, 1, 12))
    assert [(s.start.hour, s.end.hour, s.window and s.window.name) for s in segments] == [
        (6, 8, None), (8, 12, "Büro")]
    assert timeline([OFFICE], berlin(2026, 6, 1, 12), berlin(2026, 6, 1, 12)) == []


def test_next_change_none_when_nothing_changes_within_horizon() -> None:
    assert next_change([always()], utc(2026, 6, 1)) is None
    far = dated(1, "Später", 1, date(2026, 7, 1), date(2026, 7, 1))
    assert next_change([far], berlin(2026, 6, 1), horizon_days=14) is None
    assert next_change([far], berlin(2026, 6, 1), horizon_days=31) == berlin(2026, 7, 1)


def test_explain_for_the_jetzt_aktiv_line() -> None:
    windows = [OFFICE, always(name="Voicemail")]
    now = explain(windows, utc(2026, 6, 1, 7, 0))  # Monday 09:00 CEST
    assert now.window is not None and now.window.name == "Büro"
    assert [w.name for w in now.active] == ["Büro", "Voicemail"]
    assert now.until == berlin(2026, 6, 1, 12)
    assert now.window_until is not None and end_moment(now.window_until, now.at) == "12:00"
    friday_evening = explain(windows, berlin(2026, 6, 5, 18))
    assert friday_evening.window is not None and friday_evening.window.name == "Voicemail"
    assert friday_evening.window_until is not None
    assert end_moment(friday_evening.window_until, friday_evening.at) == "Mo 08:00"
    assert explain([], utc(2026, 6, 1)).window is None


def test_describe_period() -> None:
    assert describe_period(Period(FR, time(22), time(6))) == "Fr 22:00–06:00 (bis zum Folgetag)"
    assert describe_period(Period(None, time(0), time(0))) == "täglich ganztägig"
    assert describe_period(Period(MO, time(8), time(12))) == "Mo 08:00–12:00"


def test_local_wall_time_in_the_repeated_hour() -> None:
    first = local_wall_time(utc(2026, 10, 25, 0, 30))
    second = local_wall_time(utc(2026, 10, 25, 1, 30))
    assert first == second == datetime(2026, 10, 25, 2, 30)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (WindowSpec(1, "Urlaub", "date", 1), "braucht ein Start- und ein Enddatum"),
        (WindowSpec(1, "Urlaub", "date", 1, date_from=date(2026, 8, 1)),
         "braucht ein Start- und ein Enddatum"),
        (dated(1, "Urlaub", 1, date(2026, 8, 31), date(2026, 8, 1)),
         "Das Enddatum (01.08.2026) liegt vor dem Startdatum (31.08.2026)."),
        (WindowSpec(1, "Büro", "weekly", 1), "braucht mindestens einen Zeitraum"),
        (weekly(1, "Büro", 1, (7, "08:00", "12:00")), "Ungültiger Wochentag 7"),
        (weekly(1, "Büro", 1, (-1, "08:00", "12:00")), "Ungültiger Wochentag -1"),
        (weekly(1, "Büro", 1, (MO, "08:00", "12:00"), (MO, "08:00", "10:00")),
         "Der Zeitraum Mo 08:00–10:00 beginnt doppelt."),
        (WindowSpec(1, "  ", "immer", 1), "Namen"),
        (WindowSpec(1, "Immer", "immer", 0), "Agenten"),
        (WindowSpec(1, "X", "monthly", 1), "Unbekannte Art „monthly“"),
        (WindowSpec(1, "Immer", "immer", 1, periods=(Period(MO, time(8), time(9)),)),
         "hat keine Zeiträume"),
        (WindowSpec(1, "Büro", "weekly", 1, date_from=date(2026, 1, 1),
                    periods=(Period(MO, time(8), time(9)),)), "Nur Datumsfenster"),
    ],
)
def test_validate_window_reports_german_errors(spec: WindowSpec, message: str) -> None:
    errors = validate_window(spec)
    assert any(message in e for e in errors), errors


@pytest.mark.parametrize(
    "spec",
    [always(), OFFICE, dated(1, "Feiertag", 1, date(2026, 12, 25), date(2026, 12, 25)),
     weekly(1, "Nacht", 1, (FR, "22:00", "06:00"), (None, "00:00", "00:00"))],
)
def test_validate_window_accepts_valid_windows(spec: WindowSpec) -> None:
    assert validate_window(spec) == []


# ---------------------------------------------------------------- ORM: resolve_for_number


@pytest.fixture()
def db_app(tmp_path: Path):
    app = create_db_app(f"sqlite:///{tmp_path / 'voicegate.sqlite3'}")
    with warnings.catch_warnings():
        # models/migrations/env.py still calls Flask-SQLAlchemy's deprecated get_engine()
        warnings.filterwarnings("ignore", "'get_engine' is deprecated", DeprecationWarning)
        upgrade_schema(app)
    # env.py's fileConfig() disables every logger that existed before the migration ran
    logging.getLogger("models.timewindows").disabled = False
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _seed(timezone: str | None = "Europe/Berlin") -> None:
    if timezone is not None:
        db.session.add(CustomerSettings(id=1, timezone=timezone, tag_choices=[]))
    office_agent = Agent(name="Empfang", template="operator", params={})
    mailbox = Agent(name="Mailbox", template="voicemail", params={})
    number = PhoneNumber(number="+49 30 123456", label="Zentrale")
    office = TimeWindow(name="Büro", kind="weekly", agent=office_agent, phone_number=number,
                        periods=[WindowPeriod(weekday=MO, start=time(8), end=time(12)),
                                 WindowPeriod(weekday=MO, start=time(13), end=time(17))])
    fallback = TimeWindow(name="Immer", kind="immer", agent=mailbox, phone_number=number)
    other = PhoneNumber(number="4940999", label="Ohne Fenster")
    db.session.add_all([office_agent, mailbox, number, office, fallback, other])
    db.session.commit()


@pytest.mark.parametrize("called", ["+4930123456", "004930123456", "4930123456", "030123456"])
def test_resolve_for_number_matches_every_spelling(db_app, called: str) -> None:
    _seed()
    window, tz = resolve_for_number(db.session, called, utc(2026, 6, 1, 7, 30))  # Mo 09:30
    assert tz == "Europe/Berlin"
    assert window is not None and window.name == "Büro"
    agent = db.session.get(Agent, window.agent_id)
    assert agent is not None and agent.name == "Empfang"
    lunch, _ = resolve_for_number(db.session, called, utc(2026, 6, 1, 10, 30))  # 12:30
    assert lunch is not None and lunch.name == "Immer"


def test_resolve_for_number_uses_the_customer_time_zone(db_app) -> None:
    _seed("America/New_York")
    window, tz = resolve_for_number(db.session, "030123456", utc(2026, 6, 1, 7, 30))
    assert tz == "America/New_York"
    assert window is not None and window.name == "Immer"  # 03:30 in New York


def test_resolve_for_number_unknown_number_or_no_window_gives_none(db_app) -> None:
    _seed()
    assert resolve_for_number(db.session, "0301111111", utc(2026, 6, 1, 8)) == (
        None, "Europe/Berlin")
    assert resolve_for_number(db.session, "04940999", utc(2026, 6, 1, 8)) == (
        None, "Europe/Berlin")
    assert resolve_for_number(db.session, "voicegate_fallback", utc(2026, 6, 1, 8))[0] is None


def test_resolve_for_number_survives_a_broken_time_zone_setting(db_app, caplog) -> None:
    _seed("Mars/Olympus_Mons")
    window, tz = resolve_for_number(db.session, "030123456", utc(2026, 6, 1, 7, 30))
    assert tz == "Europe/Berlin"
    assert window is not None and window.name == "Büro"
    assert "Mars/Olympus_Mons" in caplog.text


def test_resolve_for_number_without_settings_row_defaults_to_berlin(db_app) -> None:
    _seed(timezone=None)
    _, tz = resolve_for_number(db.session, "030123456", utc(2026, 6, 1, 7, 30))
    assert tz == "Europe/Berlin"
    assert db.session.get(CustomerSettings, 1) is None  # reading does not create the row


def test_window_spec_copies_the_orm_row(db_app) -> None:
    _seed()
    row = db.session.scalars(db.select(TimeWindow).where(TimeWindow.name == "Büro")).one()
    spec = window_spec(row)
    assert spec.kind == "weekly" and spec.name == "Büro" and spec.agent_id == row.agent_id
    assert spec.periods == (Period(MO, time(8), time(12)), Period(MO, time(13), time(17)))
    assert validate_window(spec) == []


@pytest.mark.parametrize("called", ["030123456", "+4930123456", "sip:004930123456@carrier"])
def test_a_call_in_any_spelling_gets_the_configured_numbers_recording_policy(
        db_app, called: str) -> None:
    _seed()
    row = db.session.scalar(select(PhoneNumber).where(PhoneNumber.label == "Zentrale"))
    row.recording_enabled, row.announcement_enabled = True, True
    row.announcement_text = "Dieses Gespräch wird aufgezeichnet."
    db.session.commit()
    policy = recording_policy(db.session, called)
    assert policy.announcement == "Dieses Gespräch wird aufgezeichnet."
    assert recording_policy(db.session, "040123456").announcement == ""


# ---------------------------------------------------------------- properties

AWARE = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31),
    timezones=st.timezones(),
)
CLOCK = st.times().map(lambda t: t.replace(second=0, microsecond=0))
PERIODS = st.lists(
    st.builds(Period, st.one_of(st.none(), st.integers(0, 6)), CLOCK, CLOCK), max_size=4
).map(tuple)
SPECS = st.lists(
    st.builds(
        WindowSpec,
        id=st.integers(1, 50),
        name=st.just("W"),
        kind=st.sampled_from(["immer", "weekly", "date"]),
        agent_id=st.integers(1, 4),
        priority=st.integers(-2, 2),
        date_from=st.one_of(st.none(), st.dates(date(2020, 1, 1), date(2035, 12, 31))),
        date_to=st.one_of(st.none(), st.dates(date(2020, 1, 1), date(2035, 12, 31))),
        periods=PERIODS,
    ),
    max_size=5,
    unique_by=lambda w: w.id,
)


@settings(database=None)
@given(at=AWARE, tz=st.sampled_from(["Europe/Berlin", "Europe/London", "America/Sao_Paulo"]))
def test_property_immer_window_always_resolves(at: datetime, tz: str) -> None:
    assert resolve_window([OFFICE, always()], at, tz) is not None


@settings(database=None)
@given(windows=SPECS, at=AWARE)
def test_property_resolution_never_raises_and_is_the_first_active(
        windows: list[WindowSpec], at: datetime) -> None:
    active = active_windows(windows, at)
    assert resolve_window(windows, at) == (active[0] if active else None)
    assert resolve_window(list(reversed(windows)), at) == resolve_window(windows, at)


@settings(deadline=None, max_examples=60, database=None)
@given(windows=SPECS, at=AWARE)
def test_property_next_change_is_the_first_change(windows: list[WindowSpec], at: datetime) -> None:
    change = next_change(windows, at, horizon_days=3)
    before = resolve_window(windows, at)
    key = before.agent_id if before else None
    if change is None:
        return
    after = resolve_window(windows, change)
    assert (after.agent_id if after else None) != key
    just_before = change - timedelta(microseconds=1)
    if just_before > at:
        prior = resolve_window(windows, just_before)
        assert (prior.agent_id if prior else None) == key
