"""Helpers for the privacy tests: chats with turns, events and a recording file, written the
way the controller writes them (the search index is kept by the migration's triggers), and a
look at the raw database files."""

from __future__ import annotations

import datetime as dt
import sqlite3
import wave
from pathlib import Path

from flask import Flask

from models import Recording, db
from tests.admin_support import DB_NAME, make_chat


def write_wav(path: Path, payload: bytes = b"") -> None:
    """A short stereo WAV; ``payload`` (e.g. a marker) lands in its samples."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        data = payload + bytes(1600)
        wav.writeframes(data[: len(data) // 4 * 4])


def add_chat(app: Flask, *, caller_number: str, started_at: dt.datetime, marker: str = "",
             status: str = "neu", recording: bool = True, name: str = "Erika Mustermann") -> int:
    """One chat with two turns, a tool event and (optionally) its recording file; returns id."""
    recordings = Path(app.config["RECORDINGS_DIR"])
    with app.app_context():
        chat = make_chat(
            caller_name=name, caller_number=caller_number, status=status,
            summary=f"Ruft an wegen {marker or 'Rechnung'}.", started_at=started_at,
            turns=[("agent", "Praxis Test, guten Tag!"),
                   ("caller", f"Mein Kennwort ist {marker or 'Rechnung'}, bitte zurückrufen.")],
            events=[("tool_call", {"tool": "notiz", "result": f"Notiz {marker}"})])
        if recording:
            relative = f"{started_at:%Y/%m/%d}/{chat.call_uuid.replace(':', '-')}.wav"
            write_wav(recordings / relative, marker.encode())
            db.session.add(Recording(chat_id=chat.id, path=relative, duration_s=0.1))
        db.session.commit()
        return chat.id


def database_files(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / DB_NAME, data_dir / f"{DB_NAME}-wal") if p.exists()]


def files_containing(paths: list[Path], marker: str) -> list[str]:
    """Which of these files (or files below these folders) hold ``marker``, in any case —
    the search index stores words lower-cased."""
    needles = {marker.encode(), marker.lower().encode(), marker.upper().encode()}
    found = []
    for root in paths:
        for path in [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]:
            data = path.read_bytes()
            if any(n in data for n in needles):
                found.append(str(path))
    return found


def integrity(data_dir: Path) -> tuple[str, str]:
    """``PRAGMA integrity_check`` and the FTS5 index's own check, from a separate connection."""
    with sqlite3.connect(data_dir / DB_NAME) as conn:
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        try:
            conn.execute("INSERT INTO chat_fts(chat_fts) VALUES('integrity-check')")
            fts = "ok"
        except sqlite3.DatabaseError as exc:
            fts = str(exc)
    return check, fts


def fts_matches(app: Flask, word: str) -> int:
    with app.app_context():
        return db.session.execute(db.text(
            "SELECT count(*) FROM chat_fts WHERE chat_fts MATCH :q"), {"q": f'"{word}"'}).scalar()
