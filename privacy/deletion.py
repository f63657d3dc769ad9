"""Retention and erasure: what deletes chats and recordings on the node, and makes deleted mean
gone from the files too.

One deletion path for the hourly purge and for erasing one caller: rows go in batches, one
transaction each, and that transaction also writes the batch's recording files into
``pending_file_deletion``; after the commit the files are unlinked and the journal emptied.
Killed in between (kill -9), the rows are gone and the files are still queued: the next run
unlinks them first. Chats "In Arbeit" are never touched.

Deleted rows are overwritten in the database file (``PRAGMA secure_delete``, set on every
connection in ``models.db``); afterwards the search index is rebuilt without the deleted
entries (FTS5 ``optimize``, since SQLite < 3.42 has no FTS5 secure-delete) and the WAL is
checkpointed and truncated, so no old page image of an erased chat stays in ``-wal``.
Logs carry counts, never content.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

from flask import Flask
from sqlalchemy import delete, func, insert, select, text

from models import (
    AuditEntry,
    Chat,
    ChatEvent,
    ChatStatus,
    CustomerSettings,
    PendingFileDeletion,
    Recording,
    Turn,
    add_audit,
    caller_ref,
    caller_spellings,
    db,
    german,
    masked_number,
    utcnow,
)
from models.config import DEFAULT_AUDIT_RETENTION_DAYS
from models.phone import normalize_number

log = logging.getLogger(__name__)

# chats per transaction: ~0.1-0.2 s on 2 cores, so calls on the same hub barely notice a purge
BATCH = 200
CHECKPOINT_TRIES = 5
CHECKPOINT_BUSY_MS = 500  # per try: a reader on an old snapshot delays an erase ~2.5 s at most
_DAY_DIR = re.compile(r"^\d{4}/\d{2}/\d{2}$")
_lock = threading.Lock()  # purge and erase in one process never interleave their batches


def _yield() -> None:
    time.sleep(0)  # under gevent (the node) this lets calls run between batches


@dataclass
class Counts:
    """What one run deleted (or, in a dry run, would delete)."""

    chats: int = 0
    turns: int = 0
    events: int = 0
    recordings: int = 0  # recording rows
    files: int = 0  # recording files removed from disk
    files_missing: int = 0  # queued files that were already gone
    orphan_files: int = 0  # files no row pointed to, past the retention
    audit_entries: int = 0

    def any(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Cutoffs:
    """Rows older than these (UTC, naive) are past their time; None: kept without limit."""

    chats: dt.datetime | None = None
    recordings: dt.datetime | None = None
    audit: dt.datetime | None = None

    @classmethod
    def from_settings(cls, row: CustomerSettings | None, now: dt.datetime) -> Cutoffs:
        def cut(days: int | None) -> dt.datetime | None:
            return None if days is None else now - dt.timedelta(days=days)

        if row is None:
            return cls(audit=cut(DEFAULT_AUDIT_RETENTION_DAYS))
        return cls(chats=cut(row.chat_retention_days),
                   recordings=cut(row.recording_retention_days),
                   audit=cut(row.audit_retention_days))

    @property
    def files(self) -> dt.datetime | None:
        """Files without a row are kept as long as a recording is."""
        return self.recordings or self.chats


@dataclass
class PurgeReport:
    counts: Counts
    cutoffs: Cutoffs
    dry_run: bool = False
    scrubbed: bool = True

    def lines(self) -> list[str]:
        c = self.counts
        verb = "würden gelöscht" if self.dry_run else "gelöscht"
        out = [f"Chats {verb}: {c.chats} (Gesprächsbeiträge: {c.turns}, Ereignisse: {c.events})",
               f"Aufnahmen {verb}: {c.recordings} (Dateien: {c.files}"
               + (f", schon fehlend: {c.files_missing}" if c.files_missing else "")
               + (f", verwaiste Dateien: {c.orphan_files}" if c.orphan_files else "") + ")",
               f"Protokolleinträge {verb}: {c.audit_entries}"]
        for label, cut in (("Chats", self.cutoffs.chats),
                           ("Aufnahmen", self.cutoffs.recordings),
                           ("Protokoll", self.cutoffs.audit)):
            out.append(f"{label}: " + ("unbegrenzt aufbewahrt" if cut is None
                                       else f"älter als {german.date(cut)} {german.time(cut)} UTC"))
        if not self.scrubbed:
            out.append("WARNUNG: Die Datenbankdatei konnte nicht bereinigt werden (belegt); "
                       "der nächste Lauf versucht es erneut.")
        return out


@dataclass
class EraseReport:
    number: str  # normalised ("491701234567"); "" when the input was no phone number
    spellings: list[str] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    running: int = 0  # chats of a call still in progress: not erased
    scrubbed: bool = True

    @property
    def found(self) -> bool:
        return self.counts.chats > 0 or self.running > 0


# ---------------------------------------------------------------------------- deleting

def _delete_chats(ids: list[int], counts: Counts) -> None:
    """Rows of these chats, and their files into the journal (inside the caller's transaction).

    The search row goes first, so the turn triggers of migration 0002 find nothing to
    re-index while the turns are deleted."""
    session = db.session
    paths = session.scalars(select(Recording.path).where(Recording.chat_id.in_(ids))).all()
    _queue_files(paths)
    counts.recordings += len(paths)
    counts.turns += _count(Turn, Turn.chat_id.in_(ids))
    counts.events += _count(ChatEvent, ChatEvent.chat_id.in_(ids))
    if _has_fts():
        session.execute(text("DELETE FROM chat_fts WHERE rowid IN "
                             f"({','.join(str(int(i)) for i in ids)})"))
    session.execute(delete(Turn).where(Turn.chat_id.in_(ids))
                    .execution_options(synchronize_session=False))
    session.execute(delete(ChatEvent).where(ChatEvent.chat_id.in_(ids))
                    .execution_options(synchronize_session=False))
    session.execute(delete(Recording).where(Recording.chat_id.in_(ids))
                    .execution_options(synchronize_session=False))
    counts.chats += session.execute(delete(Chat).where(Chat.id.in_(ids))
                                    .execution_options(synchronize_session=False)).rowcount


def _queue_files(paths: list[str]) -> None:
    if paths:
        db.session.execute(insert(PendingFileDeletion),
                           [{"path": p, "queued_at": utcnow()} for p in paths])


def _count(model, condition) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(condition)) or 0


def _has_fts() -> bool:
    return db.engine.dialect.name == "sqlite"


def _unlink_pending(recordings_dir: Path, counts: Counts) -> None:
    """Remove the queued files from disk, then their journal rows."""
    folder = os.path.realpath(recordings_dir)
    while True:
        rows = db.session.execute(select(PendingFileDeletion.id, PendingFileDeletion.path)
                                  .order_by(PendingFileDeletion.id).limit(BATCH * 5)).all()
        if not rows:
            return
        for _id, relative in rows:
            path = os.path.normpath(os.path.join(folder, relative))
            if not path.startswith(folder + os.sep):
                log.warning("refusing to delete a recording outside the folder (journal %d)", _id)
                continue
            try:
                os.unlink(path)
                counts.files += 1
            except FileNotFoundError:
                counts.files_missing += 1
        db.session.execute(delete(PendingFileDeletion).where(
            PendingFileDeletion.id.in_([r[0] for r in rows])))
        db.session.commit()


def _in_batches(query_ids: Callable[[], list[int]], work: Callable[[list[int]], None],
                recordings_dir: Path, counts: Counts, pause: Callable[[], None]) -> None:
    while True:
        ids = query_ids()
        if not ids:
            return
        work(ids)
        db.session.commit()
        _unlink_pending(recordings_dir, counts)
        pause()


def _delete_recording_rows(ids: list[int], counts: Counts) -> None:
    session = db.session
    paths = session.scalars(select(Recording.path).where(Recording.id.in_(ids))).all()
    _queue_files(paths)
    counts.recordings += session.execute(delete(Recording).where(Recording.id.in_(ids))
                                         .execution_options(synchronize_session=False)).rowcount


def _sweep_orphans(recordings_dir: Path, before: dt.datetime, counts: Counts,
                   dry_run: bool) -> None:
    """Files in day folders older than ``before`` that no row points to (a call cut off by a
    crash before its row was written, a row deleted by hand): past the retention as well."""
    if not recordings_dir.is_dir():
        return
    last_day = (before - dt.timedelta(days=1)).date()  # a day folder ends at its midnight
    known: set[str] | None = None  # loaded once, only when there is an old folder to look at
    for year in sorted(p for p in recordings_dir.iterdir() if p.is_dir()):
        for month in sorted(p for p in year.iterdir() if p.is_dir()):
            for day in sorted(p for p in month.iterdir() if p.is_dir()):
                relative = f"{year.name}/{month.name}/{day.name}"
                try:
                    if not _DAY_DIR.match(relative) or \
                            dt.date(int(year.name), int(month.name), int(day.name)) > last_day:
                        continue
                except ValueError:
                    continue
                if known is None:
                    known = set(db.session.scalars(select(Recording.path)))
                    known |= set(db.session.scalars(
                        select(Chat.call_uuid).where(Chat.status == ChatStatus.IN_ARBEIT)))
                _sweep_day(day, relative, known, counts, dry_run)
            if not dry_run:
                _remove_if_empty(month)
        if not dry_run:
            _remove_if_empty(year)


def _sweep_day(day: Path, relative: str, known: set[str], counts: Counts,
               dry_run: bool) -> None:
    """``known``: every recording path with a row, and the call UUIDs of calls in progress."""
    for path in day.iterdir():
        if not path.is_file() or f"{relative}/{path.name}" in known or path.stem in known:
            continue
        counts.orphan_files += 1
        if not dry_run:
            path.unlink(missing_ok=True)
    if not dry_run:
        _remove_if_empty(day)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


# ---------------------------------------------------------------------------- scrubbing

def scrub_database(tries: int = CHECKPOINT_TRIES) -> bool:
    """Deleted search entries out of the FTS index, then the WAL written back and truncated.

    Returns False when a reader kept the WAL busy through every try (the data is deleted; its
    old page images leave the ``-wal`` file at the next successful checkpoint)."""
    if db.engine.dialect.name != "sqlite":
        return True
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("INSERT INTO chat_fts(chat_fts) VALUES('optimize')")
        conn.exec_driver_sql(f"PRAGMA busy_timeout={CHECKPOINT_BUSY_MS}")
        try:
            for attempt in range(tries):
                busy, _frames, _done = conn.exec_driver_sql(
                    "PRAGMA wal_checkpoint(TRUNCATE)").one()
                if not busy:
                    return True
                time.sleep(0.05 * (attempt + 1))
        finally:
            conn.exec_driver_sql("PRAGMA busy_timeout=5000")  # as models.db sets it
    log.warning("WAL checkpoint stayed busy after %d tries", tries)
    return False


# ---------------------------------------------------------------------------- the purge

def purge_expired(app: Flask, recordings_dir: Path, *, now: dt.datetime | None = None,
                  dry_run: bool = False, batch: int = BATCH,
                  pause: Callable[[], None] = _yield) -> PurgeReport:
    """Delete what is past the customer's retention (``now``: UTC; tests freeze it)."""
    now = now or utcnow()
    counts = Counts()
    with _lock, app.app_context():
        try:
            cutoffs = Cutoffs.from_settings(db.session.get(CustomerSettings, 1), now)
            report = PurgeReport(counts=counts, cutoffs=cutoffs, dry_run=dry_run)
            if dry_run:
                _count_expired(cutoffs, counts, recordings_dir)
                return report
            _unlink_pending(recordings_dir, counts)  # what a killed run left queued
            if cutoffs.chats is not None:
                _in_batches(lambda: _expired_chat_ids(cutoffs.chats, batch),
                            lambda ids: _delete_chats(ids, counts), recordings_dir, counts,
                            pause)
            if cutoffs.recordings is not None:
                _in_batches(lambda: _expired_recording_ids(cutoffs.recordings, batch),
                            lambda ids: _delete_recording_rows(ids, counts), recordings_dir,
                            counts, pause)
            if cutoffs.files is not None:
                _sweep_orphans(recordings_dir, cutoffs.files, counts, dry_run=False)
            if cutoffs.audit is not None:
                counts.audit_entries = db.session.execute(
                    delete(AuditEntry).where(AuditEntry.at < cutoffs.audit)).rowcount
                db.session.commit()
            if counts.chats or counts.recordings or counts.audit_entries:
                add_audit(db.session, "retention.purge", actor="System",
                          target="Aufbewahrungsfristen", **counts.as_dict())
                db.session.commit()
                report.scrubbed = scrub_database()
            return report
        finally:
            db.session.remove()


def _expired_chat_ids(cutoff: dt.datetime, limit: int) -> list[int]:
    return list(db.session.scalars(
        select(Chat.id).where(Chat.started_at < cutoff, Chat.status != ChatStatus.IN_ARBEIT)
        .order_by(Chat.started_at).limit(limit)))


def _expired_recording_ids(cutoff: dt.datetime, limit: int) -> list[int]:
    return list(db.session.scalars(
        select(Recording.id).join(Chat, Chat.id == Recording.chat_id)
        .where(Chat.started_at < cutoff, Chat.status != ChatStatus.IN_ARBEIT).limit(limit)))


def _count_expired(cutoffs: Cutoffs, counts: Counts, recordings_dir: Path) -> None:
    counts.files = _count(PendingFileDeletion, PendingFileDeletion.id.is_not(None))
    if cutoffs.chats is not None:
        expired = select(Chat.id).where(Chat.started_at < cutoffs.chats,
                                        Chat.status != ChatStatus.IN_ARBEIT)
        counts.chats = _count(Chat, Chat.id.in_(expired))
        counts.turns = _count(Turn, Turn.chat_id.in_(expired))
        counts.events = _count(ChatEvent, ChatEvent.chat_id.in_(expired))
        counts.recordings = _count(Recording, Recording.chat_id.in_(expired))
    if cutoffs.recordings is not None:
        older = select(Chat.id).where(Chat.started_at < cutoffs.recordings,
                                      Chat.status != ChatStatus.IN_ARBEIT)
        counts.recordings = _count(Recording, Recording.chat_id.in_(older))
    counts.files += counts.recordings
    if cutoffs.files is not None:
        _sweep_orphans(recordings_dir, cutoffs.files, counts, dry_run=True)
    if cutoffs.audit is not None:
        counts.audit_entries = _count(AuditEntry, AuditEntry.at < cutoffs.audit)


# ---------------------------------------------------------------------------- one caller

def erase_caller(app: Flask, recordings_dir: Path, number: str, *, actor: str,
                 secret: str, user_id: int | None = None,
                 pause: Callable[[], None] = _yield) -> EraseReport:
    """Delete every finished chat of the caller ``number`` (any spelling), with turns, events,
    search entries and recordings, and scrub the database files (DSGVO Art. 17)."""
    report = EraseReport(number=normalize_number(number))
    if not report.number:
        return report
    with _lock, app.app_context():
        try:
            report.spellings = caller_spellings(db.session, number)
            if report.spellings:
                mine = Chat.caller_number.in_(report.spellings)
                report.running = _count(Chat, mine & (Chat.status == ChatStatus.IN_ARBEIT))
                _in_batches(
                    lambda: list(db.session.scalars(select(Chat.id).where(
                        mine, Chat.status != ChatStatus.IN_ARBEIT).limit(BATCH))),
                    lambda ids: _delete_chats(ids, report.counts), recordings_dir,
                    report.counts, pause)
            add_audit(db.session, "data.erase", actor=actor, user_id=user_id,
                      target=f"Anrufer {masked_number(report.number)}",
                      target_ref=caller_ref(secret, report.number),
                      chats=report.counts.chats, recordings=report.counts.recordings,
                      running=report.running)
            db.session.commit()
            if report.counts.chats:
                report.scrubbed = scrub_database()
            log.info("erased one caller's data: %d chats, %d recordings, %d files",
                     report.counts.chats, report.counts.recordings, report.counts.files)
            return report
        finally:
            db.session.remove()


def recordings_folder_size(recordings_dir: Path) -> int:
    """Bytes in the recordings folder (for the bench and the admin's overview)."""
    total = 0
    for root, _dirs, files in os.walk(recordings_dir):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total
