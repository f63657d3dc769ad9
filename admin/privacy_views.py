"""Datenschutz: for one caller number (any spelling) what is stored, "Daten exportieren" (ZIP,
Art. 15) and "Alle Daten löschen" (with confirmation, Art. 17). Admins only; both audited."""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from models import Chat, ChatStatus, CustomerSettings, Recording, caller_spellings, db
from models.phone import dialable, normalize_number
from privacy.deletion import erase_caller
from privacy.export import export_caller

from .audit import secret
from .auth import admin_required

bp = Blueprint("privacy", __name__, url_prefix="/datenschutz")

SHOWN_CHATS = 20


@dataclass
class CallerData:
    """What the node stores for one number."""

    number: str  # normalised
    spellings: list[str]
    chats: int
    running: int
    recordings: int
    latest: list[Chat]

    @property
    def found(self) -> bool:
        return self.chats > 0


def _recordings_dir() -> Path:
    return Path(current_app.config["RECORDINGS_DIR"])


def caller_data(raw: str) -> CallerData | None:
    number = normalize_number(raw)
    if not number:
        return None
    spellings = caller_spellings(db.session, raw)
    if not spellings:
        return CallerData(number, [], 0, 0, 0, [])
    mine = Chat.caller_number.in_(spellings)
    chats = db.session.scalar(select(func.count()).select_from(Chat).where(mine)) or 0
    running = db.session.scalar(select(func.count()).select_from(Chat).where(
        mine, Chat.status == ChatStatus.IN_ARBEIT)) or 0
    recordings = db.session.scalar(select(func.count()).select_from(Recording).join(
        Chat, Chat.id == Recording.chat_id).where(mine)) or 0
    latest = list(db.session.scalars(select(Chat).where(mine).order_by(
        Chat.started_at.desc()).limit(SHOWN_CHATS)))
    return CallerData(number, spellings, chats, running, recordings, latest)


def _retention() -> dict[str, Any]:
    row = db.session.get(CustomerSettings, 1)
    return {"chats": row.chat_retention_days if row else None,
            "recordings": row.recording_retention_days if row else None,
            "audit": row.audit_retention_days if row else 365}


def _lookup(raw: str) -> tuple[CallerData | None, str]:
    if not raw:
        return None, ""
    data = caller_data(raw)
    if data is None:
        return None, f"„{raw}“ ist keine Telefonnummer (z. B. +49 170 1234567 oder 0170 1234567)."
    return data, ""


@bp.get("/")
@admin_required
def index() -> Any:
    raw = (request.args.get("nummer") or "").strip()[:60]
    data, error = _lookup(raw)
    return render_template("privacy/index.html", raw=raw, data=data, error=error,
                           retention=_retention()), 400 if error else 200


@bp.post("/export")
@admin_required
def export() -> Any:
    raw = (request.form.get("nummer") or "").strip()[:60]
    if not normalize_number(raw):
        flash("Bitte eine gültige Anrufernummer eingeben.", "error")
        return redirect(url_for("privacy.index"))
    out = tempfile.TemporaryFile()
    report = export_caller(current_app._get_current_object(), _recordings_dir(), raw, out,
                           actor=g.user.username, user_id=g.user.id, secret=secret())
    out.seek(0)
    day = dt.date.today().isoformat()
    response = send_file(out, mimetype="application/zip", as_attachment=True,
                         download_name=f"auskunft-{report.number}-{day}.zip")
    if report.missing:
        response.headers["X-Voicegate-Missing-Recordings"] = str(len(report.missing))
    return response


@bp.get("/loeschen")
@admin_required
def confirm_erase() -> Any:
    raw = (request.args.get("nummer") or "").strip()[:60]
    data, error = _lookup(raw)
    if data is None:
        flash(error or "Bitte eine Anrufernummer eingeben.", "error")
        return redirect(url_for("privacy.index"))
    return render_template("privacy/confirm_erase.html", raw=raw, data=data)


@bp.post("/loeschen")
@admin_required
def erase() -> Response:
    raw = (request.form.get("nummer") or "").strip()[:60]
    if not normalize_number(raw):
        flash("Bitte eine gültige Anrufernummer eingeben.", "error")
        return redirect(url_for("privacy.index"))
    if request.form.get("bestaetigt") != "ja":
        flash("Bitte bestätigen Sie, dass alle Daten dieser Nummer endgültig gelöscht werden.",
              "error")
        return redirect(url_for("privacy.confirm_erase", nummer=raw))
    report = erase_caller(current_app._get_current_object(), _recordings_dir(), raw,
                          actor=g.user.username, user_id=g.user.id, secret=secret())
    shown = dialable(report.number)
    c = report.counts
    if not report.found:
        flash(f"Für {shown} sind keine Daten gespeichert – es wurde nichts gelöscht.", "info")
    elif c.chats:
        flash(f"Alle Daten von {shown} gelöscht: {c.chats} Chats mit {c.turns} "
              f"Gesprächsbeiträgen, {c.events} Ereignissen und {c.recordings} Aufnahmen.",
              "success")
    if report.running:
        flash(f"{report.running} Anruf(e) von {shown} laufen gerade und wurden nicht gelöscht. "
              "Bitte nach dem Anruf erneut löschen.", "error")
    if not report.scrubbed:
        flash("Die Datenbankdatei konnte noch nicht bereinigt werden (belegt). Bitte erneut "
              "löschen, um gelöschte Reste aus der Datei zu entfernen.", "error")
    return redirect(url_for("privacy.index", nummer=raw))
