"""Reads the time-window form into a `WindowSpec` (periods included) and back."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from models.german import WEEKDAYS
from models.timewindows import Period, WindowSpec

EVERY_DAY = "t"  # form key of the periods of a date window (weekday None)
MIN_SLOTS = 2


@dataclass
class WindowForm:
    """The window as the form shows it: values plus German errors."""

    name: str = ""
    kind: str = "weekly"
    category: str = "regulaer"
    agent_id: int | None = None
    priority: int = 0
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    periods: list[Period] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def spec(self, window_id: int = 0) -> WindowSpec:
        return WindowSpec(
            id=window_id, name=self.name, kind=self.kind, agent_id=self.agent_id or 0,
            priority=self.priority, date_from=self.date_from, date_to=self.date_to,
            periods=tuple(self.periods), category=self.category,
        )

    def slots(self, day: int | None) -> list[tuple[str, str]]:
        """(start, end) texts of the period rows shown for ``day``, with empty rows to add."""
        rows = [(f"{p.start:%H:%M}", f"{p.end:%H:%M}") for p in self.periods if p.weekday == day]
        rows.sort()
        return rows + [("", "")] * max(1, MIN_SLOTS - len(rows))


def _day_key(day: int | None) -> str:
    return EVERY_DAY if day is None else str(day)


def _day_name(day: int | None) -> str:
    return "jeden Tag" if day is None else WEEKDAYS[day]


def _parse_time(raw: str) -> dt.time | None:
    try:
        return dt.time.fromisoformat(raw.strip())
    except ValueError:
        return None


def _parse_periods(form: Any, days: list[int | None], errors: list[str]) -> list[Period]:
    periods: list[Period] = []
    for day in days:
        key = _day_key(day)
        starts = form.getlist(f"start-{key}")
        ends = form.getlist(f"end-{key}")
        for index, (start_raw, end_raw) in enumerate(zip(starts, ends, strict=False), start=1):
            if not start_raw.strip() and not end_raw.strip():
                continue
            start, end = _parse_time(start_raw), _parse_time(end_raw)
            where = f"{_day_name(day)}, Zeitraum {index}"
            if start is None or end is None:
                errors.append(f"{where}: Bitte Beginn und Ende als Uhrzeit (z. B. 08:00) angeben.")
                continue
            periods.append(Period(weekday=day, start=start, end=end))
    return periods


def parse_window_form(form: Any, kind: str) -> WindowForm:
    """Build the window from submitted fields; ``kind`` is fixed by the page, not the form."""
    errors: list[str] = []
    agent_raw = form.get("agent_id", "")
    priority_raw = form.get("priority", "0").strip() or "0"
    try:
        priority = int(priority_raw)
    except ValueError:
        errors.append("Die Priorität muss eine ganze Zahl sein.")
        priority = 0
    result = WindowForm(
        name=form.get("name", "").strip()[:200], kind=kind,
        category=form.get("category", "regulaer"),
        agent_id=int(agent_raw) if agent_raw.isdigit() else None, priority=priority,
    )
    if kind == "date":
        for attr, key, label in (("date_from", "date_from", "Von"), ("date_to", "date_to", "Bis")):
            raw = form.get(key, "").strip()
            if raw:
                try:
                    setattr(result, attr, dt.date.fromisoformat(raw))
                except ValueError:
                    errors.append(f"„{label}“ ist kein gültiges Datum.")
        if result.date_from and not form.get("date_to", "").strip():
            result.date_to = result.date_from  # a single day
        result.periods = _parse_periods(form, [None], errors)
    elif kind == "weekly":
        result.periods = _parse_periods(form, list(range(7)), errors)
        if form.get("copy_monday"):
            monday = [p for p in result.periods if p.weekday == 0]
            result.periods = [p for p in result.periods if p.weekday not in (1, 2, 3, 4)]
            for day in (1, 2, 3, 4):
                result.periods += [Period(weekday=day, start=p.start, end=p.end) for p in monday]
    result.errors = errors
    return result


def form_from_row(row: Any) -> WindowForm:
    return WindowForm(
        name=row.name, kind=row.kind, category=row.category, agent_id=row.agent_id,
        priority=row.priority, date_from=row.date_from, date_to=row.date_to,
        periods=[Period(weekday=p.weekday, start=p.start, end=p.end) for p in row.periods],
    )
