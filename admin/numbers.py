"""Nummern & Zeitfenster: phone numbers, their time windows, holidays and the "Jetzt aktiv" line."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from models import WINDOW_CATEGORIES, Agent, PhoneNumber, TimeWindow, WindowPeriod, db, german
from models.phone import dialable, normalize_number, same_number
from models.timewindows import (
    Explanation,
    WindowSpec,
    describe_period,
    explain,
    validate_window,
    window_spec,
)

from .audit import record as audit
from .auth import admin_required
from .formatting import customer_tz, local_now
from .holiday_import import BUNDESLAENDER, public_holidays
from .window_form import WindowForm, form_from_row, parse_window_form

log = logging.getLogger(__name__)

bp = Blueprint("numbers", __name__, url_prefix="/nummern")

KIND_TITLES = {
    "weekly": "Wöchentliches Zeitfenster",
    "date": "Datumsfenster (Feiertag, Urlaub, Notdienst)",
    "immer": "Zeitfenster „Immer“",
}
DEFAULT_CATEGORY = {"weekly": "regulaer", "date": "urlaub", "immer": "immer"}


@dataclass(frozen=True)
class ActiveLine:
    """What the "Jetzt aktiv" line (or a preview) says."""

    explanation: Explanation
    agent_name: str

    @property
    def text(self) -> str:
        ex = self.explanation
        if ex.window is None:
            return "Kein Zeitfenster aktiv – Anrufe gehen an die Ersatzweiterleitung."
        text = f"{self.agent_name} nimmt an (Zeitfenster „{ex.window.name}“)"
        if ex.window_until is not None:
            text += f" – bis {german.end_moment(ex.window_until, ex.at)} Uhr"
        return text + "."


def _agent_names() -> dict[int, str]:
    return dict(db.session.execute(select(Agent.id, Agent.name)).all())


def _specs(number: PhoneNumber) -> list[WindowSpec]:
    return [window_spec(w) for w in number.windows]


def active_line(specs: list[WindowSpec], at: dt.datetime, agents: dict[int, str]) -> ActiveLine:
    ex = explain(specs, at, customer_tz())
    name = agents.get(ex.window.agent_id, "?") if ex.window else ""
    return ActiveLine(explanation=ex, agent_name=name)


def _number_or_404(number_id: int) -> PhoneNumber:
    number = db.session.scalar(
        select(PhoneNumber).where(PhoneNumber.id == number_id).options(
            selectinload(PhoneNumber.windows).selectinload(TimeWindow.periods)))
    if number is None:
        abort(404)
    return number


def _find_number(number: str) -> PhoneNumber | None:
    """The configured row that is ``number`` in any spelling (the master may store "+49…")."""
    return next((row for row in db.session.scalars(select(PhoneNumber))
                 if same_number(number, row.number)), None)


@bp.get("/")
@admin_required
def index() -> str:
    numbers = db.session.scalars(
        select(PhoneNumber).order_by(PhoneNumber.number).options(
            selectinload(PhoneNumber.windows).selectinload(TimeWindow.periods))).all()
    agents = _agent_names()
    now = local_now()
    lines = {n.id: active_line(_specs(n), now, agents) for n in numbers}
    return render_template("numbers/index.html", numbers=numbers, lines=lines,
                           form=request.form)


@bp.post("/")
@admin_required
def create() -> Any:
    raw = request.form.get("number", "")
    label = request.form.get("label", "").strip()[:200]
    normalized = normalize_number(raw)
    error = ""
    if not normalized:
        error = "Bitte eine gültige Telefonnummer eingeben (z. B. +49 30 1234567)."
    elif _find_number(normalized):
        error = f"Die Nummer {dialable(normalized)} ist schon angelegt."
    if error:
        flash(error, "error")
        return index(), 400
    number = PhoneNumber(number=normalized, label=label)
    db.session.add(number)
    db.session.commit()
    log.info("phone number %s created", normalized)
    audit("number.create", f"Nummer {dialable(normalized)}", f"number:{number.id}")
    flash(f"Nummer {dialable(normalized)} angelegt. Legen Sie jetzt die Zeitfenster an.",
          "success")
    return redirect(url_for("numbers.detail", number_id=number.id))


def _preview(specs: list[WindowSpec], agents: dict[int, str]) -> tuple[ActiveLine | None, str]:
    """The preview for ?datum=&uhrzeit= (local), or an error text."""
    day_raw, clock_raw = request.args.get("datum", ""), request.args.get("uhrzeit", "")
    if not day_raw:
        return None, ""
    try:
        day = dt.date.fromisoformat(day_raw)
        clock = dt.time.fromisoformat(clock_raw) if clock_raw else dt.time(12, 0)
    except ValueError:
        return None, "Bitte Datum und Uhrzeit vollständig angeben."
    at = dt.datetime.combine(day, clock, tzinfo=customer_tz())
    return active_line(specs, at, agents), ""


def week_columns(number: PhoneNumber) -> list[list[dict[str, Any]]]:
    """Per weekday the periods of the weekly (and every-day) windows, sorted by start."""
    columns: list[list[dict[str, Any]]] = [[] for _ in range(7)]
    for window in number.windows:
        if window.kind != "weekly":
            continue
        for period in window.periods:
            days = range(7) if period.weekday is None else [period.weekday]
            for day in days:
                columns[day].append({"window": window, "start": period.start, "end": period.end})
    for column in columns:
        column.sort(key=lambda s: s["start"])
    return columns


@bp.get("/<int:number_id>")
@admin_required
def detail(number_id: int) -> str:
    number = _number_or_404(number_id)
    agents = _agent_names()
    specs = _specs(number)
    preview, preview_error = _preview(specs, agents)
    today = local_now().date()
    return render_template(
        "numbers/detail.html", number=number,
        now_line=active_line(specs, local_now(), agents), preview=preview,
        preview_error=preview_error, agents=agents, week=week_columns(number),
        date_windows=sorted((w for w in number.windows if w.kind == "date"),
                            key=lambda w: (w.date_from or dt.date.min, w.name)),
        other_windows=[w for w in number.windows if w.kind == "immer"],
        categories=WINDOW_CATEGORIES, bundeslaender=BUNDESLAENDER,
        years=[today.year, today.year + 1], today=today,
        describe=lambda w: [describe_period(p) for p in window_spec(w).periods],
        agent_list=_agent_list(),
    )


@bp.post("/<int:number_id>")
@admin_required
def update(number_id: int) -> Response:
    number = _number_or_404(number_id)
    number.label = request.form.get("label", "").strip()[:200]
    db.session.commit()
    audit("number.change", f"Nummer {dialable(number.number)}", f"number:{number_id}",
          fields=["label"])
    flash("Bezeichnung gespeichert.", "success")
    return redirect(url_for("numbers.detail", number_id=number_id))


MAX_ANNOUNCEMENT = 500


@bp.post("/<int:number_id>/aufnahme")
@admin_required
def update_recording(number_id: int) -> Response:
    """Recording on/off and the announcement spoken before the greeting (§ 201 StGB)."""
    number = _number_or_404(number_id)
    text = " ".join(request.form.get("announcement_text", "").split())
    announce = request.form.get("announcement_enabled") == "on"
    if announce and not text:
        flash("Bitte den Text der Ansage eingeben oder die Ansage ausschalten.", "error")
        return redirect(url_for("numbers.detail", number_id=number_id) + "#aufnahme")
    if len(text) > MAX_ANNOUNCEMENT:
        flash(f"Die Ansage darf höchstens {MAX_ANNOUNCEMENT} Zeichen lang sein.", "error")
        return redirect(url_for("numbers.detail", number_id=number_id) + "#aufnahme")
    before = (number.recording_enabled, number.announcement_enabled, number.announcement_text)
    number.recording_enabled = request.form.get("recording_enabled") == "on"
    number.announcement_enabled = announce
    number.announcement_text = text or number.announcement_text
    db.session.commit()
    after = (number.recording_enabled, number.announcement_enabled, number.announcement_text)
    changed = [name for name, old, new in zip(
        ("recording_enabled", "announcement_enabled", "announcement_text"), before, after,
        strict=True) if old != new]
    audit("number.change", f"Nummer {dialable(number.number)}", f"number:{number_id}",
          fields=changed, recording=number.recording_enabled)
    state = "Anrufe werden aufgezeichnet" if number.recording_enabled else \
        "Anrufe werden nicht aufgezeichnet"
    state += ", mit Ansage vor der Begrüßung." if announce else ", ohne Ansage."
    flash(f"Gespeichert: {state}", "success")
    return redirect(url_for("numbers.detail", number_id=number_id) + "#aufnahme")


@bp.post("/<int:number_id>/loeschen")
@admin_required
def delete(number_id: int) -> Response:
    number = _number_or_404(number_id)
    shown = dialable(number.number)
    db.session.delete(number)
    db.session.commit()
    audit("number.delete", f"Nummer {shown}", f"number:{number_id}")
    flash(f"Nummer {shown} und ihre Zeitfenster wurden gelöscht.", "success")
    return redirect(url_for("numbers.index"))


def _agent_list() -> list[Agent]:
    return list(db.session.scalars(select(Agent).order_by(Agent.name)))


def _save_window(window: TimeWindow, form: WindowForm) -> None:
    window.name = form.name
    window.category = form.category
    window.agent_id = form.agent_id or 0
    window.priority = form.priority
    window.date_from = form.date_from if form.kind == "date" else None
    window.date_to = form.date_to if form.kind == "date" else None
    window.periods.clear()
    db.session.flush()  # delete old periods before re-adding the same (weekday, start)
    for period in form.periods:
        window.periods.append(WindowPeriod(weekday=period.weekday, start=period.start,
                                           end=period.end))


def _validate(form: WindowForm, window_id: int = 0) -> list[str]:
    errors = list(form.errors)
    errors += validate_window(form.spec(window_id))
    if form.agent_id and db.session.get(Agent, form.agent_id) is None:
        errors.append("Den gewählten Agenten gibt es nicht mehr.")
    if form.category not in WINDOW_CATEGORIES:
        errors.append("Bitte eine gültige Art des Zeitfensters wählen.")
    return errors


def _render_window_form(number: PhoneNumber, form: WindowForm, window: TimeWindow | None,
                        errors: list[str]) -> str:
    return render_template(
        "numbers/window_form.html", number=number, form=form, window=window, errors=errors,
        agents=_agent_list(), categories=WINDOW_CATEGORIES, title=KIND_TITLES[form.kind],
    )


@bp.route("/<int:number_id>/fenster/neu/<any(weekly, date, immer):kind>", methods=("GET", "POST"))
@admin_required
def new_window(number_id: int, kind: str) -> Any:
    number = _number_or_404(number_id)
    if request.method == "GET":
        form = WindowForm(kind=kind, category=DEFAULT_CATEGORY[kind],
                          name="Immer" if kind == "immer" else "")
        return _render_window_form(number, form, None, [])
    form = parse_window_form(request.form, kind)
    errors = _validate(form)
    if errors:
        return _render_window_form(number, form, None, errors), 400
    window = TimeWindow(phone_number_id=number.id, kind=kind, name=form.name,
                        agent_id=form.agent_id or 0)
    db.session.add(window)
    _save_window(window, form)
    db.session.commit()
    audit("window.create", f"Nummer {dialable(number.number)}: „{window.name}“",
          f"number:{number_id}")
    flash(f"Zeitfenster „{window.name}“ angelegt.", "success")
    return redirect(url_for("numbers.detail", number_id=number_id))


def _window_or_404(number: PhoneNumber, window_id: int) -> TimeWindow:
    window = next((w for w in number.windows if w.id == window_id), None)
    if window is None:
        abort(404)
    return window


@bp.route("/<int:number_id>/fenster/<int:window_id>", methods=("GET", "POST"))
@admin_required
def edit_window(number_id: int, window_id: int) -> Any:
    number = _number_or_404(number_id)
    window = _window_or_404(number, window_id)
    if request.method == "GET":
        return _render_window_form(number, form_from_row(window), window, [])
    form = parse_window_form(request.form, window.kind)
    errors = _validate(form, window.id)
    if errors:
        return _render_window_form(number, form, window, errors), 400
    _save_window(window, form)
    db.session.commit()
    audit("window.change", f"Nummer {dialable(number.number)}: „{window.name}“",
          f"number:{number_id}")
    flash(f"Zeitfenster „{window.name}“ gespeichert.", "success")
    return redirect(url_for("numbers.detail", number_id=number_id))


@bp.post("/<int:number_id>/fenster/<int:window_id>/loeschen")
@admin_required
def delete_window(number_id: int, window_id: int) -> Response:
    number = _number_or_404(number_id)
    window = _window_or_404(number, window_id)
    name = window.name
    db.session.delete(window)
    db.session.commit()
    audit("window.delete", f"Nummer {dialable(number.number)}: „{name}“",
          f"number:{number_id}")
    flash(f"Zeitfenster „{name}“ gelöscht.", "success")
    return redirect(url_for("numbers.detail", number_id=number_id))


@bp.post("/<int:number_id>/feiertage")
@admin_required
def import_holidays(number_id: int) -> Response:
    """All public holidays of one Bundesland and year as date windows, in one step."""
    number = _number_or_404(number_id)
    state = request.form.get("bundesland", "")
    agent_raw = request.form.get("agent_id", "")
    agent = db.session.get(Agent, int(agent_raw)) if agent_raw.isdigit() else None
    try:
        year = int(request.form.get("jahr", ""))
        days = public_holidays(state, year) if 2000 <= year <= 2100 else []
    except ValueError:
        days = []
    if not days or agent is None:
        flash("Bitte Bundesland, Jahr und den Agenten für die Feiertage wählen.", "error")
        return redirect(url_for("numbers.detail", number_id=number_id))
    existing = {(w.date_from, w.name) for w in number.windows if w.kind == "date"}
    added = 0
    for day, name in days:
        if (day, name) in existing:
            continue
        db.session.add(TimeWindow(
            phone_number_id=number.id, agent_id=agent.id, name=name, kind="date",
            category="feiertag", date_from=day, date_to=day))
        added += 1
    db.session.commit()
    audit("window.create", f"Nummer {dialable(number.number)}: Feiertage {year}",
          f"number:{number_id}", added=added)
    skipped = len(days) - added
    message = f"{added} Feiertage {year} für {BUNDESLAENDER[state]} angelegt"
    message += f" ({skipped} waren schon vorhanden)." if skipped else "."
    flash(message, "success")
    return redirect(url_for("numbers.detail", number_id=number_id))
