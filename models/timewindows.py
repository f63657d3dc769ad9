"""Which time window (and so which start agent) answers a phone number at a given moment.

Resolution works on frozen, ORM-free specs (``WindowSpec``), so it is pure and easy to test;
``window_spec`` and ``resolve_for_number`` are the only parts that touch the database.

Rules:
- Evaluation happens in the *local wall-clock time* of the customer's time zone. A period
  08:00–12:00 means 08:00–12:00 on the clock on the wall, also on DST change days: in the
  spring gap (02:00–03:00 does not exist) such times are simply never reached, in the autumn
  the repeated hour 02:00–03:00 is covered twice.
- Periods are end-exclusive: 08:00–12:00 covers 08:00:00 but not 12:00:00.
- ``end <= start`` means the period runs past midnight into the next day (Fri 22:00–06:00
  covers Saturday 00:00–06:00); 00:00–00:00 is the whole day.
- A date window covers its whole days (``date_from``..``date_to`` inclusive) unless it has
  periods; then only those times on those days (``weekday`` None: every day of the range). A
  period that starts on the last day and runs past midnight still covers the next morning.
- ``weekday`` None in a weekly window means every day.
- Precedence: date beats weekly beats immer; inside a kind the higher priority wins, then the
  shorter date range, then the lower id.
- Invalid windows (see ``validate_window``) never raise here; the parts that make no sense
  simply cover nothing.
"""

from __future__ import annotations

import bisect
import functools
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from . import german
from .config import WINDOW_KINDS, CustomerSettings, PhoneNumber, TimeWindow
from .german import WEEKDAYS_SHORT
from .phone import DEFAULT_COUNTRY_CODE, normalize_number

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

DEFAULT_TZ = "Europe/Berlin"
_KIND_RANK = {"date": 0, "weekly": 1, "immer": 2}
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Period:
    """A time range inside a window; ``weekday`` 0=Monday…6=Sunday or None (every day)."""

    weekday: int | None
    start: time
    end: time

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def covers(self, wall: datetime, may_start_on: Callable[[date], bool]) -> bool:
        """Whether the period covers the naive wall-clock time ``wall``.

        ``may_start_on(day)`` says whether the period may begin on ``day`` (weekday and, for a
        date window, the date range); the part after midnight belongs to the day it began.
        """
        clock = wall.time()
        today = wall.date()
        if not self.crosses_midnight:
            return self.start <= clock < self.end and self._on(today, may_start_on)
        if clock >= self.start and self._on(today, may_start_on):
            return True
        if clock < self.end:
            try:
                yesterday = today - _ONE_DAY
            except OverflowError:
                return False
            return self._on(yesterday, may_start_on)
        return False

    def _on(self, day: date, may_start_on: Callable[[date], bool]) -> bool:
        return (self.weekday is None or day.weekday() == self.weekday) and may_start_on(day)


@dataclass(frozen=True)
class WindowSpec:
    """An ORM-free time window: what resolution needs, nothing more."""

    id: int
    name: str
    kind: str
    agent_id: int
    priority: int = 0
    date_from: date | None = None
    date_to: date | None = None
    periods: tuple[Period, ...] = ()
    category: str = ""

    def covers(self, wall: datetime) -> bool:
        """Whether this window covers the naive local wall-clock time ``wall``."""
        if self.kind == "immer":
            return True
        if self.kind == "weekly":
            return any(p.covers(wall, _any_day) for p in self.periods)
        if self.kind == "date":
            if self.date_from is None or self.date_to is None or self.date_to < self.date_from:
                return False
            if not self.periods:
                return self.date_from <= wall.date() <= self.date_to
            return any(p.covers(wall, self._in_range) for p in self.periods)
        return False

    def _in_range(self, day: date) -> bool:
        assert self.date_from is not None and self.date_to is not None
        return self.date_from <= day <= self.date_to

    @property
    def range_days(self) -> int:
        """Length of a date window's range in days (0 for other kinds or missing dates)."""
        if self.kind != "date" or self.date_from is None or self.date_to is None:
            return 0
        return max((self.date_to - self.date_from).days + 1, 0)

    def precedence(self) -> tuple[int, int, int, int]:
        """Sort key: smaller wins (kind, then higher priority, shorter range, lower id)."""
        return (_KIND_RANK.get(self.kind, 99), -self.priority, self.range_days, self.id)


@dataclass(frozen=True)
class Segment:
    """A stretch of time in which one window (or none) answers; ``end`` is exclusive."""

    start: datetime
    end: datetime
    window: WindowSpec | None


@dataclass(frozen=True)
class Explanation:
    """What answers at ``at`` and why; for the admin's "Jetzt aktiv … bis …" line."""

    at: datetime  # in the customer's zone
    window: WindowSpec | None
    active: tuple[WindowSpec, ...]  # every covering window, winner first
    until: datetime | None  # when the answering agent changes next (None: not within horizon)
    window_until: datetime | None  # when the answering window changes next


def _any_day(_day: date) -> bool:
    return True


# ---------------------------------------------------------------------------- ORM -> pure


def window_spec(row: TimeWindow) -> WindowSpec:
    """Copy an ORM ``TimeWindow`` (with its periods) into a frozen ``WindowSpec``."""
    periods = tuple(
        Period(weekday=p.weekday, start=p.start, end=p.end)
        for p in sorted(row.periods, key=lambda p: (-1 if p.weekday is None else p.weekday,
                                                      p.start))
    )
    return WindowSpec(
        id=row.id,
        name=row.name,
        kind=row.kind,
        agent_id=row.agent_id,
        priority=row.priority or 0,
        date_from=row.date_from,
        date_to=row.date_to,
        periods=periods,
        category=row.category or "",
    )


# ---------------------------------------------------------------------------- time zones


def zone_for(tz: str | tzinfo) -> tzinfo:
    """A tzinfo for ``tz`` (an IANA name such as "Europe/Berlin" or a tzinfo object)."""
    if isinstance(tz, tzinfo):
        return tz
    return _zone_by_name(tz)


@functools.lru_cache(maxsize=64)
def _zone_by_name(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"Unbekannte Zeitzone: {name!r}") from exc


def local_wall_time(at: datetime, tz: str | tzinfo = DEFAULT_TZ) -> datetime:
    """The naive wall-clock time in ``tz`` at the aware instant ``at``."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("Zeitpunkt ohne Zeitzone: 'at' muss timezone-aware sein")
    return at.astimezone(zone_for(tz)).replace(tzinfo=None)


# ---------------------------------------------------------------------------- resolution


def active_windows(
    windows: Iterable[WindowSpec], at: datetime, tz: str | tzinfo = DEFAULT_TZ
) -> list[WindowSpec]:
    """Every window covering ``at``, sorted by precedence (the one that answers first)."""
    wall = local_wall_time(at, tz)
    return sorted((w for w in windows if w.covers(wall)), key=WindowSpec.precedence)


def resolve_window(
    windows: Iterable[WindowSpec], at: datetime, tz: str | tzinfo = DEFAULT_TZ
) -> WindowSpec | None:
    """The window that answers at the aware instant ``at``, or None (caller gets the fallback)."""
    wall = local_wall_time(at, tz)
    covering = [w for w in windows if w.covers(wall)]
    return min(covering, key=WindowSpec.precedence) if covering else None


ChangeKey = Literal["agent", "window"]


def _key_of(window: WindowSpec | None, by: ChangeKey) -> int | None:
    if window is None:
        return None
    return window.agent_id if by == "agent" else window.id


def next_change(
    windows: Iterable[WindowSpec],
    at: datetime,
    tz: str | tzinfo = DEFAULT_TZ,
    horizon_days: int = 14,
    *,
    by: ChangeKey = "agent",
) -> datetime | None:
    """The first instant after ``at`` at which the answering agent (``by="agent"``) or window
    (``by="window"``) differs from the one at ``at``; None if nothing changes within
    ``horizon_days``. The result is aware, in ``tz`` (compare it with ``<``/``>`` or after
    ``astimezone(UTC)``: by PEP 495 a time in the repeated autumn hour never equals a datetime
    of another zone)."""
    zone = zone_for(tz)
    specs = tuple(windows)
    end = at + timedelta(days=horizon_days)
    first = next(_changes(specs, at, end, zone, by), None)
    return first[0] if first is not None else None


def timeline(
    windows: Iterable[WindowSpec],
    start: datetime,
    end: datetime,
    tz: str | tzinfo = DEFAULT_TZ,
) -> list[Segment]:
    """Who answers from ``start`` to ``end`` as consecutive segments (one per window change);
    the admin's week preview. Instants are aware, in ``tz``."""
    zone = zone_for(tz)
    specs = tuple(windows)
    if end <= start:
        return []
    segments: list[Segment] = []
    seg_start = start.astimezone(zone)
    current = resolve_window(specs, start, zone)
    for instant, window in _changes(specs, start, end, zone, "window"):
        segments.append(Segment(seg_start, instant, current))
        seg_start, current = instant, window
    segments.append(Segment(seg_start, end.astimezone(zone), current))
    return segments


def explain(
    windows: Iterable[WindowSpec],
    at: datetime,
    tz: str | tzinfo = DEFAULT_TZ,
    horizon_days: int = 14,
) -> Explanation:
    """What answers at ``at``, every window that covers it, and until when."""
    zone = zone_for(tz)
    specs = tuple(windows)
    active = tuple(active_windows(specs, at, zone))
    return Explanation(
        at=at.astimezone(zone),
        window=active[0] if active else None,
        active=active,
        until=next_change(specs, at, zone, horizon_days),
        window_until=next_change(specs, at, zone, horizon_days, by="window"),
    )


def _changes(
    specs: Sequence[WindowSpec], start: datetime, end: datetime, zone: tzinfo, by: ChangeKey
) -> Iterator[tuple[datetime, WindowSpec | None]]:
    """Yield (instant, new window) each time the resolution key changes in (start, end)."""
    current = _key_of(resolve_window(specs, start, zone), by)
    for instant in _candidate_instants(specs, start, end, zone):
        window = resolve_window(specs, instant, zone)
        key = _key_of(window, by)
        if key != current:
            current = key
            yield instant.astimezone(zone), window


def _candidate_instants(
    specs: Sequence[WindowSpec], start: datetime, end: datetime, zone: tzinfo
) -> list[datetime]:
    """Every instant in (start, end) at which coverage can change, sorted (UTC).

    Coverage is a function of the wall clock, so it can only change when the wall clock reaches
    a boundary (midnight, a period's start or end) — once, or twice in the repeated autumn
    hour — or jumps over one at a DST transition. Extra candidates are harmless.
    """
    start_utc = start.astimezone(UTC)
    end_utc = end.astimezone(UTC)
    clock_times = {time(0, 0)}
    for spec in specs:
        for p in spec.periods:
            clock_times.update((p.start, p.end))
    first_day = local_wall_time(start, zone).date() - _ONE_DAY
    last_day = local_wall_time(end, zone).date() + _ONE_DAY
    found: set[datetime] = set(_transitions(start_utc, end_utc, zone))
    day = first_day
    while day <= last_day:
        for clock in clock_times:
            wall = datetime.combine(day, clock)
            for fold in (0, 1):
                found.add(wall.replace(tzinfo=zone, fold=fold).astimezone(UTC))
        day += _ONE_DAY
    ordered = sorted(found)
    lo = bisect.bisect_right(ordered, start_utc)
    hi = bisect.bisect_left(ordered, end_utc)
    return ordered[lo:hi]


def _transitions(start_utc: datetime, end_utc: datetime, zone: tzinfo) -> Iterator[datetime]:
    """UTC instants in [start, end] where the zone's UTC offset changes (to the second)."""

    def offset_at(second: int) -> timedelta | None:
        return datetime.fromtimestamp(second, UTC).astimezone(zone).utcoffset()

    first = math.floor(start_utc.timestamp())
    last = math.ceil(end_utc.timestamp())
    step = 3600
    t = first
    offset = offset_at(t)
    while t < last:
        nxt = min(t + step, last)
        nxt_offset = offset_at(nxt)
        if nxt_offset != offset:
            lo, hi = t, nxt  # offset_at(lo) is the old offset, offset_at(hi) the new one
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset_at(mid) == offset:
                    lo = mid
                else:
                    hi = mid
            yield datetime.fromtimestamp(hi, UTC)
            offset = nxt_offset
        t = nxt


# ---------------------------------------------------------------------------- admin texts


def describe_period(period: Period) -> str:
    """German text for one period, e.g. "Fr 22:00–06:00 (bis zum Folgetag)"."""
    day = "täglich" if period.weekday is None else _weekday_label(period.weekday)
    if period.start == period.end == time(0, 0):
        return f"{day} ganztägig"
    text = f"{day} {german.time(period.start)}–{german.time(period.end)}"
    return f"{text} (bis zum Folgetag)" if period.crosses_midnight else text


def _weekday_label(weekday: int) -> str:
    return WEEKDAYS_SHORT[weekday] if 0 <= weekday <= 6 else f"Wochentag {weekday}"


def validate_window(spec: WindowSpec) -> list[str]:
    """German error texts for everything that is wrong with ``spec`` (empty: valid)."""
    errors: list[str] = []
    if not spec.name.strip():
        errors.append("Bitte geben Sie dem Zeitfenster einen Namen.")
    if not spec.agent_id:
        errors.append("Bitte wählen Sie den Agenten, der in diesem Zeitfenster annimmt.")
    if spec.kind not in WINDOW_KINDS:
        errors.append(
            f"Unbekannte Art „{spec.kind}“ – erlaubt sind: immer, wöchentlich oder Datum."
        )
        return errors
    if spec.kind == "date":
        if spec.date_from is None or spec.date_to is None:
            errors.append("Ein Datumsfenster braucht ein Start- und ein Enddatum.")
        elif spec.date_to < spec.date_from:
            errors.append(
                f"Das Enddatum ({german.date(spec.date_to)}) liegt vor dem Startdatum "
                f"({german.date(spec.date_from)})."
            )
    elif spec.date_from is not None or spec.date_to is not None:
        errors.append("Nur Datumsfenster haben ein Start- und Enddatum.")
    if spec.kind == "weekly" and not spec.periods:
        errors.append("Ein wöchentliches Zeitfenster braucht mindestens einen Zeitraum.")
    if spec.kind == "immer" and spec.periods:
        errors.append("Ein Zeitfenster „Immer“ gilt rund um die Uhr und hat keine Zeiträume.")
    seen: set[tuple[int | None, time]] = set()
    for p in spec.periods:
        if p.weekday is not None and not 0 <= p.weekday <= 6:
            errors.append(
                f"Ungültiger Wochentag {p.weekday} (erlaubt: 0 = Montag … 6 = Sonntag)."
            )
            continue
        if (p.weekday, p.start) in seen:
            errors.append(f"Der Zeitraum {describe_period(p)} beginnt doppelt.")
        seen.add((p.weekday, p.start))
    return errors


# ---------------------------------------------------------------------------- by number


def resolve_for_number(
    session: Session,
    number: str,
    at: datetime,
    *,
    country_code: str = DEFAULT_COUNTRY_CODE,
) -> tuple[WindowSpec | None, str]:
    """The window answering ``number`` at ``at``, and the customer's time zone name.

    ``number`` is the called number as FreeSWITCH delivers it; it is matched against the
    configured numbers after ``normalize_number`` on both sides. An unknown number, or one with
    no covering window, gives None (the caller then reaches the customer's fallback). An
    unknown time zone in the settings is logged and Europe/Berlin is used, so a call never
    fails on it.
    """
    tz_name = _customer_timezone(session)
    wanted = normalize_number(number, country_code)
    if not wanted:
        log.warning("called number %r is not a phone number", number)
        return None, tz_name
    candidates = session.execute(select(PhoneNumber.id, PhoneNumber.number)).all()
    matches = sorted(
        pid for pid, num in candidates if normalize_number(num, country_code) == wanted
    )
    if not matches:
        log.warning("called number %r (%s) is not configured", number, wanted)
        return None, tz_name
    if len(matches) > 1:
        log.warning("called number %s is configured %d times; using id %d",
                    wanted, len(matches), matches[0])
    rows = session.scalars(
        select(TimeWindow)
        .where(TimeWindow.phone_number_id == matches[0])
        .options(selectinload(TimeWindow.periods))
    ).all()
    window = resolve_window([window_spec(r) for r in rows], at, tz_name)
    return window, tz_name


def _customer_timezone(session: Session) -> str:
    settings = session.get(CustomerSettings, 1)
    name = (settings.timezone if settings is not None else "") or DEFAULT_TZ
    try:
        zone_for(name)
    except ValueError:
        log.error("unknown time zone %r in customer settings; using %s", name, DEFAULT_TZ)
        return DEFAULT_TZ
    return name
