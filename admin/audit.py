"""Audit log: recording what an admin user read or changed (``record``), and the admin page
"Protokoll" that shows it, filterable by user, action, target and date (admins only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, flash, g, render_template, request
from sqlalchemy import select

from models import AUDIT_ACTIONS, AuditEntry, CustomerSettings, add_audit, caller_ref, db
from models.phone import normalize_number

from .auth import admin_required
from .formatting import local_day_start_utc

bp = Blueprint("audit", __name__, url_prefix="/protokoll")

PER_PAGE = 50
DETAIL_LABELS = {
    "chats": "Chats", "turns": "Gesprächsbeiträge", "events": "Ereignisse",
    "recordings": "Aufnahmen", "files": "Dateien", "files_missing": "Dateien schon fehlend",
    "orphan_files": "verwaiste Dateien", "audit_entries": "Protokolleinträge",
    "running": "laufende Anrufe (nicht gelöscht)", "missing": "fehlende Aufnahmen",
    "fields": "Felder", "name": "Name", "windows": "Zeitfenster", "added": "angelegt",
    "role": "Rolle", "template": "Vorlage", "copy_of": "Kopie von Agent",
    "recording": "Aufnahme an",
}


def record(action: str, target: str = "", target_ref: str = "", **details: Any) -> None:
    """One entry for the logged-in user, committed at once (a view's own commit is done)."""
    user = g.get("user")
    add_audit(db.session, action, actor=user.username if user else "unbekannt",
              user_id=user.id if user else None, target=target, target_ref=target_ref,
              **details)
    db.session.commit()


def secret() -> str:
    return current_app.config["SECRET_KEY"]


def _target_condition(raw: str):  # noqa: ANN202
    """A caller number matches its keyed hash; anything else the shown target text."""
    if len(normalize_number(raw)) >= 6:
        return (AuditEntry.target_ref == caller_ref(secret(), raw)) | \
            AuditEntry.target.contains(raw)
    return AuditEntry.target.contains(raw) | (AuditEntry.target_ref == raw)


@bp.get("/")
@admin_required
def index() -> str:
    args = request.args
    actor = (args.get("benutzer") or "").strip()[:120]
    action = args.get("aktion") or ""
    target = (args.get("ziel") or "").strip()[:100]
    page = max(1, args.get("seite", 1, type=int) or 1)
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action in AUDIT_ACTIONS:
        query = query.where(AuditEntry.action == action)
    if target:
        query = query.where(_target_condition(target))
    dates: dict[str, dt.date | None] = {}
    for key, label in (("von", "Von"), ("bis", "Bis")):
        raw = (args.get(key) or "").strip()
        dates[key] = None
        if raw:
            try:
                dates[key] = dt.date.fromisoformat(raw)
            except ValueError:
                flash(f"„{label}“ ist kein gültiges Datum.", "error")
    if dates["von"]:
        query = query.where(AuditEntry.at >= local_day_start_utc(dates["von"]))
    if dates["bis"]:
        query = query.where(AuditEntry.at < local_day_start_utc(dates["bis"]
                                                                + dt.timedelta(days=1)))
    rows = list(db.session.scalars(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                                   .offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1)))
    actors = db.session.scalars(select(AuditEntry.actor).distinct().order_by(AuditEntry.actor))
    settings = db.session.get(CustomerSettings, 1)
    filters = {"benutzer": actor, "aktion": action if action in AUDIT_ACTIONS else "",
               "ziel": target, "von": args.get("von", ""), "bis": args.get("bis", "")}
    return render_template(
        "audit/index.html", entries=rows[:PER_PAGE], has_more=len(rows) > PER_PAGE, page=page,
        actions=AUDIT_ACTIONS, detail_labels=DETAIL_LABELS, actors=list(actors),
        filters=filters,
        args={k: v for k, v in filters.items() if v},
        retention_days=settings.audit_retention_days if settings else 365,
    )
