"""The "Einstellungen" form: reads and checks the customer's settings, keeps what was typed.

Values are kept as typed (``tags_text`` as the textarea's text) so a form with errors comes
back unchanged; ``apply_to`` stores the cleaned values."""

from __future__ import annotations

import functools
import re
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from agents.manage import LANGUAGES
from models import CustomerSettings
from models.phone import dial_form, is_phone_number

DEFAULT_TZ = "Europe/Berlin"
GERMAN_SPEAKING_ZONES = ("Europe/Berlin", "Europe/Vienna", "Europe/Zurich")
MAX_NAME = 200
MAX_TAGS = 30
MAX_TAG_LENGTH = 40
MAX_BOX = 40
_BOX = re.compile(r"[A-Za-z0-9]+", re.ASCII)
_NOT_ZONES = {"Factory", "localtime", "posixrules"}
MAX_RETENTION_DAYS = 3650
# form field -> (CustomerSettings column, German name)
RETENTION_FIELDS = {
    "chat_retention": ("chat_retention_days", "Chats"),
    "recording_retention": ("recording_retention_days", "Aufnahmen"),
    "audit_retention": ("audit_retention_days", "Protokoll"),
}


@functools.cache
def other_zones() -> tuple[str, ...]:
    """zoneinfo's zones after the German-speaking ones, sorted."""
    zones = zoneinfo.available_timezones() - _NOT_ZONES - set(GERMAN_SPEAKING_ZONES)
    return tuple(sorted(zones))


def is_zone(name: str) -> bool:
    return name in GERMAN_SPEAKING_ZONES or name in other_zones()


@dataclass
class SettingsForm:
    """The settings as the form shows them, plus German errors by field name."""

    name: str = ""
    timezone: str = DEFAULT_TZ
    fallback_number: str = ""
    voicemail_box: str = ""
    tags_text: str = ""
    language: str = "de"
    # retention in days as typed; "" = unbegrenzt
    chat_retention: str = ""
    recording_retention: str = ""
    audit_retention: str = "365"
    errors: dict[str, str] = field(default_factory=dict)

    def retention_days(self, key: str) -> int | None:
        raw = getattr(self, key).strip()
        return int(raw) if raw else None

    def tags(self) -> list[str]:
        """One tag per line: trimmed, empty lines dropped, duplicates (any case) dropped."""
        seen: set[str] = set()
        tags: list[str] = []
        for line in self.tags_text.splitlines():
            tag = " ".join(line.split())
            if tag and tag.casefold() not in seen:
                seen.add(tag.casefold())
                tags.append(tag)
        return tags

    def apply_to(self, row: CustomerSettings) -> None:
        row.name = self.name
        row.timezone = self.timezone
        row.fallback_number = dial_form(self.fallback_number)
        row.voicemail_box = self.voicemail_box
        row.tag_choices = self.tags()
        row.language = self.language
        for key, (column, _label) in RETENTION_FIELDS.items():
            setattr(row, column, self.retention_days(key))


def form_from_row(row: CustomerSettings) -> SettingsForm:
    return SettingsForm(
        name=row.name or "", timezone=row.timezone or DEFAULT_TZ,
        fallback_number=row.fallback_number or "", voicemail_box=row.voicemail_box or "",
        tags_text="\n".join(row.tag_choices or []), language=row.language or "de",
        **{key: "" if getattr(row, column, None) is None else str(getattr(row, column))
           for key, (column, _label) in RETENTION_FIELDS.items()},
    )


def _check_tags(form: SettingsForm) -> str | None:
    tags = form.tags()
    too_long = [t for t in tags if len(t) > MAX_TAG_LENGTH]
    if too_long:
        return f"Schlagwort zu lang (höchstens {MAX_TAG_LENGTH} Zeichen): „{too_long[0]}“"
    if len(tags) > MAX_TAGS:
        return f"Höchstens {MAX_TAGS} Schlagworte (eingegeben: {len(tags)})."
    return None


def parse_settings_form(data: Any) -> SettingsForm:
    """Read the submitted form; ``errors`` is empty when it may be stored."""
    form = SettingsForm(
        name=data.get("name", "").strip(), timezone=data.get("timezone", "").strip(),
        fallback_number=data.get("fallback_number", "").strip(),
        voicemail_box=data.get("voicemail_box", "").strip(),
        tags_text=data.get("tag_choices", ""), language=data.get("language", ""),
        **{key: data.get(key, "").strip()[:10] for key in RETENTION_FIELDS},
    )
    errors = form.errors
    if len(form.name) > MAX_NAME:
        errors["name"] = f"Höchstens {MAX_NAME} Zeichen."
    if not is_zone(form.timezone):
        errors["timezone"] = "Bitte eine Zeitzone aus der Liste wählen."
    number = form.fallback_number
    if number and not is_phone_number(number):
        errors["fallback_number"] = ("Keine gültige Telefonnummer (Ziffern, optional mit +, "
                                     "z. B. +49 30 1234567).")
    box = form.voicemail_box
    if box and not (_BOX.fullmatch(box) and len(box) <= MAX_BOX):
        errors["voicemail_box"] = (f"Nur Buchstaben (A–Z, ohne Umlaute) und Ziffern, ohne "
                                   f"Leerzeichen, höchstens {MAX_BOX} Zeichen.")
    problem = _check_tags(form)
    if problem:
        errors["tag_choices"] = problem
    if form.language not in LANGUAGES:
        errors["language"] = "Ungültige Auswahl."
    _check_retention(form)
    return form


def _check_retention(form: SettingsForm) -> None:
    for key in RETENTION_FIELDS:
        raw = getattr(form, key)
        if raw and not (raw.isdigit() and 1 <= int(raw) <= MAX_RETENTION_DAYS):
            form.errors[key] = (f"Bitte eine Zahl von Tagen zwischen 1 und {MAX_RETENTION_DAYS} "
                                "eingeben, oder leer lassen für „unbegrenzt“.")
    if form.errors.keys() & {"chat_retention", "recording_retention"}:
        return
    chats, recordings = form.retention_days("chat_retention"), \
        form.retention_days("recording_retention")
    if chats is not None and (recordings is None or recordings > chats):
        form.errors["recording_retention"] = (
            f"Aufnahmen werden mit ihrem Chat gelöscht: höchstens {chats} Tage "
            "(die Aufbewahrung der Chats).")
