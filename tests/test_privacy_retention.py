"""Retention with a frozen clock: what is past its time goes — rows, search index entries and
audio files — and chats still "In Arbeit" are never touched; the CLI and the node's scheduler
run the same purge."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import gevent
import pytest

from models import (
    AuditEntry,
    Chat,
    ChatEvent,
    ChatStatus,
    CustomerSettings,
    Recording,
    Turn,
    add_audit,
    db,
)
from privacy.deletion import purge_expired
from tests.admin_support import make_app, template_db  # noqa: F401 (fixture)
from tests.privacy_support import add_chat, fts_matches, integrity
from voicegate.cli import main

NOW = dt.datetime(2026, 12, 1, 12, 0)  # the frozen clock (UTC)


def _retention(web, chats: int | None, recordings: int | None, audit: int | None = 365) -> None:
    with web.app_context():
        row = CustomerSettings.get()
        row.chat_retention_days, row.recording_retention_days = chats, recordings
        row.audit_retention_days = audit
        db.session.commit()


def _state(web) -> dict[str, object]:
    with web.app_context():
        return {
            "chats": sorted(db.session.scalars(db.select(Chat.caller_name))),
            "turns": db.session.scalar(db.select(db.func.count(Turn.id))),
            "events": db.session.scalar(db.select(db.func.count(ChatEvent.id))),
            "recordings": db.session.scalar(db.select(db.func.count(Recording.id))),
        }


def _files(web) -> list[str]:
    folder = Path(web.config["RECORDINGS_DIR"])
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.wav"))


def _days_ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


@pytest.fixture
def web(template_db, tmp_path):  # noqa: F811
    return make_app(template_db, tmp_path / "data")


@pytest.fixture
def seeded(web):
    """Four chats: old and done, old but still running, recent, and middle-aged."""
    add_chat(web, caller_number="491700000001", started_at=_days_ago(200), marker="Altmarker",
             name="Alt")
    add_chat(web, caller_number="491700000002", started_at=_days_ago(200),
             status=ChatStatus.IN_ARBEIT, marker="Laufmarker", name="Läuft")
    add_chat(web, caller_number="491700000003", started_at=_days_ago(2), marker="Neumarker",
             name="Neu")
    add_chat(web, caller_number="491700000004", started_at=_days_ago(60), marker="Mittelmarker",
             name="Mittel")
    return web


def test_chats_past_their_time_go_with_turns_events_search_entries_and_files(seeded):
    web = seeded
    _retention(web, chats=180, recordings=30)
    before = _files(web)
    assert len(before) == 4 and fts_matches(web, "altmarker") == 1

    report = purge_expired(web, Path(web.config["RECORDINGS_DIR"]), now=NOW)

    c = report.counts
    assert (c.chats, c.turns, c.events) == (1, 2, 1)
    assert c.recordings == 2 and c.files == 2  # the old chat's and the 60-day-old recording
    state = _state(web)
    assert state["chats"] == ["Läuft", "Mittel", "Neu"]
    assert state["recordings"] == 2  # the running call's and the recent one
    assert fts_matches(web, "altmarker") == 0
    assert fts_matches(web, "laufmarker") == 1 and fts_matches(web, "mittelmarker") == 1
    files = _files(web)
    assert len(files) == 2 and not any("Alt" in f or "Mittel" in f for f in files)
    assert integrity(Path(web.config["DATA_DIR"])) == ("ok", "ok")


def test_chats_in_progress_are_never_touched_however_old(seeded):
    web = seeded
    _retention(web, chats=1, recordings=1)
    purge_expired(web, Path(web.config["RECORDINGS_DIR"]), now=NOW + dt.timedelta(days=3650))
    state = _state(web)
    assert state["chats"] == ["Läuft"] and state["recordings"] == 1 and state["turns"] == 2
    assert len(_files(web)) == 1 and fts_matches(web, "laufmarker") == 1


def test_unlimited_retention_keeps_everything_and_a_dry_run_changes_nothing(seeded):
    web = seeded
    _retention(web, chats=None, recordings=None)
    assert not purge_expired(web, Path(web.config["RECORDINGS_DIR"]), now=NOW).counts.any()
    _retention(web, chats=30, recordings=10)
    before, files = _state(web), _files(web)
    report = purge_expired(web, Path(web.config["RECORDINGS_DIR"]), now=NOW, dry_run=True)
    assert (report.counts.chats, report.counts.recordings) == (2, 2)
    assert "würden gelöscht" in report.lines()[0]
    assert _state(web) == before and _files(web) == files


def test_the_audit_log_is_kept_by_its_own_retention(web):
    with web.app_context():
        add_audit(db.session, "chat.open", actor="chef", target="Chat 1")
        db.session.add(AuditEntry(action="chat.open", actor="chef", target="Chat 2",
                                  at=_days_ago(400), target_ref="", details={}))
        db.session.commit()
    _retention(web, chats=None, recordings=None, audit=365)
    report = purge_expired(web, Path(web.config["RECORDINGS_DIR"]), now=NOW)
    assert report.counts.audit_entries == 1
    with web.app_context():
        left = [e.target for e in db.session.scalars(db.select(AuditEntry))
                if e.action == "chat.open"]
        assert left == ["Chat 1"]
        purge = db.session.scalars(db.select(AuditEntry).filter_by(
            action="retention.purge")).one()
        assert purge.actor == "System" and purge.details["audit_entries"] == 1


def test_a_recording_file_no_row_points_to_goes_when_its_day_is_past(seeded):
    """A call cut off by a crash leaves a file without a row: it must not stay forever."""
    web = seeded
    folder = Path(web.config["RECORDINGS_DIR"])
    stray = folder / f"{_days_ago(90):%Y/%m/%d}" / "abgebrochen.wav"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"RIFF")
    recent = folder / f"{_days_ago(1):%Y/%m/%d}" / "laeuft-noch.wav"
    recent.parent.mkdir(parents=True, exist_ok=True)
    recent.write_bytes(b"RIFF")
    _retention(web, chats=None, recordings=30)
    report = purge_expired(web, folder, now=NOW)
    assert report.counts.orphan_files == 1
    assert not stray.exists() and recent.exists()


def test_voicegate_privacy_purge_prints_what_it_deleted(seeded, capsys):
    web = seeded
    _retention(web, chats=30, recordings=None)
    data = web.config["DATA_DIR"]
    assert main(["privacy", "purge", "--dry-run", "--data", data]) == 0
    out = capsys.readouterr().out
    assert "Probelauf" in out and "Chats würden gelöscht: 2" in out
    assert len(_state(web)["chats"]) == 4
    assert main(["privacy", "purge", "--data", data]) == 0
    out = capsys.readouterr().out
    assert "Chats gelöscht: 2 (Gesprächsbeiträge: 4, Ereignisse: 2)" in out
    assert "Aufnahmen: unbegrenzt aufbewahrt" in out
    assert "Altmarker" not in out and "491700000001" not in out  # counts, never content
    assert _state(web)["chats"] == ["Läuft", "Neu"]


def test_the_node_runs_the_purge_when_its_scheduler_starts(call_lab):
    from voicegate.node import start_scheduler
    from voicegate.privacy_job import JOB_ID

    call_lab.start()
    web = call_lab.node.db_app
    web.config["RECORDINGS_DIR"] = str(call_lab.node.settings.recordings_dir)
    add_chat(web, caller_number="491700000009", started_at=dt.datetime(2020, 1, 1), name="Uralt")
    _retention(web, chats=30, recordings=None)
    scheduler = start_scheduler(call_lab.node)
    try:
        job = scheduler.get_job(JOB_ID)
        assert job is not None and job.trigger.interval == dt.timedelta(hours=1)
        with gevent.Timeout(20):
            while _state(web)["chats"]:
                gevent.sleep(0.05)  # the job's greenlet runs as soon as this one yields
    finally:
        scheduler.shutdown(wait=False)
    assert _files(web) == []
