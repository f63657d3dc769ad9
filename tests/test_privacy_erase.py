"""Erasure per caller (DSGVO Art. 17): every chat of the number however it was written goes,
with turns, events, search entries and recordings — and is not left in SQLite's freed pages,
the FTS index or the WAL: the database files and the recordings folder are searched byte by
byte for a marker afterwards."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from models import AuditEntry, Chat, ChatStatus, db
from privacy.deletion import erase_caller
from tests.admin_support import DB_NAME, make_app, template_db  # noqa: F401 (fixture)
from tests.privacy_support import (
    add_chat,
    database_files,
    files_containing,
    fts_matches,
    integrity,
)
from voicegate.cli import main

MARKER = "Zebraquark4711"
SPELLINGS = ["491709876543", "+49 170 9876543", "01709876543", "0049 170 9876543"]
STARTED = dt.datetime(2026, 11, 20, 9, 0)


@pytest.fixture
def web(template_db, tmp_path):  # noqa: F811
    return make_app(template_db, tmp_path / "data")


def _seed(web) -> None:
    for index, number in enumerate(SPELLINGS):
        add_chat(web, caller_number=number, started_at=STARTED + dt.timedelta(hours=index),
                 marker=f"{MARKER}x{index}", name=f"Geheimname{index}")
    add_chat(web, caller_number="4930111222", started_at=STARTED, marker="Andererkunde",
             name="Bleibt")


def _chats(web) -> list[str]:
    with web.app_context():
        return sorted(db.session.scalars(db.select(Chat.caller_name)))


def test_erasing_a_caller_removes_every_spelling_and_leaves_no_byte_in_the_files(web):
    _seed(web)
    data = Path(web.config["DATA_DIR"])
    recordings = Path(web.config["RECORDINGS_DIR"])
    # positive control: the marker is in the database files and recordings before
    assert files_containing(database_files(data), MARKER)
    assert files_containing([recordings], MARKER)
    assert fts_matches(web, f"{MARKER.lower()}x1") == 1

    report = erase_caller(web, recordings, "0170 / 987 65 43", actor="chef", secret="s")

    assert report.counts.chats == 4 and report.counts.recordings == 4
    assert report.counts.files == 4 and report.scrubbed
    assert sorted(report.spellings) == sorted(SPELLINGS)
    assert _chats(web) == ["Bleibt"]
    assert fts_matches(web, "andererkunde") == 1
    for index in range(4):
        assert fts_matches(web, f"{MARKER.lower()}x{index}") == 0
    leftovers = files_containing(database_files(data) + [recordings], MARKER)
    leftovers += files_containing(database_files(data), "Geheimname")
    leftovers += files_containing(database_files(data), "9876543")
    assert leftovers == [], leftovers
    wal = data / f"{DB_NAME}-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    assert integrity(data) == ("ok", "ok")
    with web.app_context():
        entry = db.session.scalars(db.select(AuditEntry).filter_by(action="data.erase")).one()
    assert entry.target == "Anrufer +4917…43" and "9876543" not in entry.target_ref
    assert entry.details["chats"] == 4


def test_erase_keeps_working_while_another_connection_reads(web):
    """A reader holding an old snapshot delays the WAL truncation; once it lets go, the next
    erase's scrub completes and the bytes are gone."""
    _seed(web)
    data = Path(web.config["DATA_DIR"])
    reader = sqlite3.connect(data / DB_NAME)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM chat").fetchone()
    report = erase_caller(web, Path(web.config["RECORDINGS_DIR"]), "+491709876543",
                          actor="chef", secret="s")
    assert report.counts.chats == 4 and not report.scrubbed  # said so, not silently
    reader.rollback()
    reader.close()
    again = erase_caller(web, Path(web.config["RECORDINGS_DIR"]), "+491709876543",
                         actor="chef", secret="s")
    assert not again.found
    # the scrub runs with every erase that deleted something; run one more to truncate
    from privacy.deletion import scrub_database

    with web.app_context():
        assert scrub_database()
    assert files_containing(database_files(data), MARKER) == []


def test_a_running_call_of_the_caller_is_not_erased_and_the_report_says_so(web):
    add_chat(web, caller_number="491709876543", started_at=STARTED, marker=MARKER)
    add_chat(web, caller_number="01709876543", started_at=STARTED + dt.timedelta(hours=1),
             status=ChatStatus.IN_ARBEIT, marker="Laeuft", name="Im Gespräch")
    report = erase_caller(web, Path(web.config["RECORDINGS_DIR"]), "+49 170 9876543",
                          actor="chef", secret="s")
    assert report.counts.chats == 1 and report.running == 1
    assert _chats(web) == ["Im Gespräch"]


def test_voicegate_privacy_erase_for_a_number_without_data_says_so(web, capsys):
    _seed(web)
    data = web.config["DATA_DIR"]
    assert main(["privacy", "erase", "--caller", "+49 89 555555", "--data", data]) == 0
    assert "Für +4989555555 sind keine Daten gespeichert – nichts gelöscht." in \
        capsys.readouterr().out
    assert main(["privacy", "erase", "--caller", "keine nummer", "--data", data]) == 2
    assert "keine Telefonnummer" in capsys.readouterr().err
    assert main(["privacy", "erase", "--caller", "0049170-9876543", "--data", data]) == 0
    out = capsys.readouterr().out
    assert "Gelöscht für +491709876543: 4 Chats, 8 Gesprächsbeiträge, 4 Ereignisse, " \
        "4 Aufnahmen (4 Dateien)." in out
    assert _chats(web) == ["Bleibt"]
