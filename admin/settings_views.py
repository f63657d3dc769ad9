"""Einstellungen: the customer's own settings (name, time zone, fallback number, voicemail box,
summary tags, language); saving also rewrites FreeSWITCH's variables when configured."""

from __future__ import annotations

import logging
from dataclasses import fields
from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from agents.manage import LANGUAGES
from config import Settings
from models import CustomerSettings, db
from models.config import DEFAULT_AUDIT_RETENTION_DAYS

from .audit import record as audit
from .auth import admin_required
from .freeswitch_vars import update_vars_file, vars_file_current, vars_path
from .settings_form import (
    GERMAN_SPEAKING_ZONES,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    RETENTION_FIELDS,
    SettingsForm,
    form_from_row,
    other_zones,
    parse_settings_form,
)

log = logging.getLogger(__name__)

bp = Blueprint("settings", __name__, url_prefix="/einstellungen")


def _node_settings() -> Settings:
    return current_app.extensions["voicegate_settings"]


def _render(form: SettingsForm, row: CustomerSettings) -> str:
    settings = _node_settings()
    return render_template(
        "settings/index.html", form=form, languages=LANGUAGES,
        german_zones=GERMAN_SPEAKING_ZONES, other_zones=other_zones(),
        max_tags=MAX_TAGS, max_tag_length=MAX_TAG_LENGTH, retention_fields=RETENTION_FIELDS,
        stored=row,
        vars_path=vars_path(settings), vars_current=vars_file_current(settings, row),
    )


def _stored() -> CustomerSettings:
    """The row, or its defaults before the first save (looking does not create it)."""
    return db.session.get(CustomerSettings, 1) or CustomerSettings(
        timezone="Europe/Berlin", fallback_number="", voicemail_box="", tag_choices=[],
        audit_retention_days=DEFAULT_AUDIT_RETENTION_DAYS)


@bp.get("/")
@admin_required
def index() -> str:
    row = _stored()
    return _render(form_from_row(row), row)


@bp.post("/")
@admin_required
def save() -> Any:
    form = parse_settings_form(request.form)
    if form.errors:
        return _render(form, _stored()), 400
    row = CustomerSettings.get()
    before = form_from_row(row)
    form.apply_to(row)
    db.session.commit()
    log.info("customer settings saved by %s", g.user.username)
    after = form_from_row(row)
    changed = [f.name for f in fields(SettingsForm) if f.name != "errors"
               and getattr(before, f.name) != getattr(after, f.name)]
    audit("settings.change", "Einstellungen", "settings", fields=changed)
    flash("Einstellungen gespeichert.", "success")
    update = update_vars_file(_node_settings(), row)
    if update is not None and update.error:
        flash(f"{update.error} Die Einstellungen sind gespeichert, FreeSWITCH verwendet aber "
              "weiter die bisherige Rückfallnummer.", "error")
    elif update is not None and update.changed:
        flash(f"FreeSWITCH-Variablen in {update.path} aktualisiert. FreeSWITCH übernimmt sie erst "
              "nach „reloadxml“ (fs_cli -x reloadxml).", "info")
    return redirect(url_for("settings.index"))
