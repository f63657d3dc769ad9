"""Everything the node stores about one caller, as a ZIP (DSGVO Art. 15): ``daten.json`` with
every chat, turn, event and summary for the number (any spelling), plus the recordings under
``aufnahmen/``. A recording missing on disk is named in the JSON and in ``LIESMICH.txt``; the
export still completes."""

from __future__ import annotations

import datetime as dt
import json
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from models import END_REASONS, Chat, ChatStatus, add_audit, caller_ref, caller_spellings, db
from models.phone import dialable, masked_number, normalize_number

log = logging.getLogger(__name__)


@dataclass
class ExportReport:
    number: str  # normalised; "" when the input was no phone number
    chats: int = 0
    recordings: int = 0  # files put into the ZIP
    missing: list[str] = field(default_factory=list)  # recording paths not found on disk

    @property
    def found(self) -> bool:
        return self.chats > 0


def _iso(value: dt.datetime | None) -> str | None:
    return value.replace(tzinfo=dt.UTC).isoformat() if value else None


def _chat_json(chat: Chat, recordings_dir: Path, zf: zipfile.ZipFile,
               report: ExportReport) -> dict[str, Any]:
    recordings = []
    for rec in chat.recordings:
        source = (recordings_dir / rec.path).resolve()
        inside = source.is_relative_to(recordings_dir.resolve())
        entry: dict[str, Any] = {"datei": None, "dauer_s": rec.duration_s,
                                 "abtastrate_hz": rec.sample_rate, "kanaele": rec.channels,
                                 "kanalbelegung": "links Anrufer, rechts Agent"}
        if inside and source.is_file():
            name = f"aufnahmen/chat-{chat.id}-{Path(rec.path).name}"
            zf.write(source, name, compress_type=zipfile.ZIP_STORED)
            entry["datei"] = name
            report.recordings += 1
        else:
            entry["fehlt"] = f"Datei {rec.path} nicht mehr vorhanden"
            report.missing.append(rec.path)
        recordings.append(entry)
    return {
        "chat_id": chat.id, "anruf_id": chat.call_uuid,
        "anrufernummer": chat.caller_number, "anrufername": chat.caller_name,
        "angerufene_nummer": chat.called_number, "zeitfenster": chat.window_name,
        "start_agent": chat.start_agent_name, "letzter_agent": chat.last_agent_name,
        "status": ChatStatus.label_of(chat.status),
        "beginn": _iso(chat.started_at), "angenommen": _iso(chat.answered_at),
        "ende": _iso(chat.ended_at),
        "ende_durch": END_REASONS.get(chat.end_reason, chat.end_reason),
        "weitergeleitet_an": chat.transferred_to,
        "zusammenfassung": chat.summary, "schlagworte": list(chat.tags or []),
        "notizen": chat.followup_note,
        "gespraech": [{"nr": t.seq, "von": "Anrufer" if t.role == "caller" else "Agent",
                       "agent": t.agent_name, "text": t.text, "zeit": _iso(t.at),
                       "unterbrochen": t.interrupted} for t in chat.turns],
        "ereignisse": [{"nr": e.seq, "art": e.kind, "zeit": _iso(e.at), "daten": e.data}
                       for e in chat.events],
        "aufnahmen": recordings,
    }


def export_caller(app: Flask, recordings_dir: Path, number: str, out: Path | IO[bytes], *,
                  actor: str, secret: str, user_id: int | None = None) -> ExportReport:
    """Write the caller's ZIP to ``out`` (a path or a binary file) and audit the export."""
    report = ExportReport(number=normalize_number(number))
    if not report.number:
        return report
    with app.app_context():
        try:
            spellings = caller_spellings(db.session, number)
            chats = db.session.scalars(
                select(Chat).where(Chat.caller_number.in_(spellings)).order_by(Chat.started_at)
                .options(selectinload(Chat.turns), selectinload(Chat.events),
                         selectinload(Chat.recordings))).all() if spellings else []
            report.chats = len(chats)
            with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                data = {
                    "erstellt": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "anrufernummer": dialable(report.number),
                    "schreibweisen": spellings,
                    "chats": [_chat_json(c, recordings_dir, zf, report) for c in chats],
                    "fehlende_aufnahmen": report.missing,
                }
                zf.writestr("daten.json", json.dumps(data, ensure_ascii=False, indent=2))
                zf.writestr("LIESMICH.txt", _readme(report))
            add_audit(db.session, "data.export", actor=actor, user_id=user_id,
                      target=f"Anrufer {masked_number(report.number)}",
                      target_ref=caller_ref(secret, report.number), chats=report.chats,
                      recordings=report.recordings, missing=len(report.missing))
            db.session.commit()
            log.info("exported one caller's data: %d chats, %d recordings, %d missing",
                     report.chats, report.recordings, len(report.missing))
            return report
        finally:
            db.session.remove()


def _readme(report: ExportReport) -> str:
    lines = [
        "Auskunft nach Art. 15 DSGVO – KI-Voicegate",
        "",
        f"Anrufernummer: {dialable(report.number)}",
        f"Chats: {report.chats}, Aufnahmen: {report.recordings}",
        "",
        "daten.json enthält jeden gespeicherten Chat dieser Nummer mit Gesprächsverlauf,",
        "Ereignissen, Zusammenfassung und Schlagworten; aufnahmen/ die Gesprächsaufnahmen",
        "(WAV, Stereo: links Anrufer, rechts Agent).",
    ]
    if report.missing:
        lines += ["", "Diese Aufnahmen fehlen auf dem Datenträger und sind nicht enthalten:"]
        lines += [f"  - {path}" for path in report.missing]
    return "\n".join(lines) + "\n"
