"""How long retention and erasure take on a node with many chats and their recordings.

    .venv/bin/python -m bench.bench_privacy --count 100000           # seeds into a temp folder
    .venv/bin/python -m bench.bench_privacy --data /tmp/b            # an already seeded folder

Seeds ``--count`` chats over the last year, each finished one with a recording file
(scripts/seed_chats.py --recordings), then measures, on that database:

1. erasing one caller (``erase_caller``: rows, FTS optimize, WAL truncate),
2. an hourly purge that finds one day of chats past their time (the node's usual run), and
   the scrub alone (FTS optimize + WAL truncate; one statement that holds the node's hub),
3. the purge of every chat with its recording (retention 1 day, clock a year ahead),

and prints wall time, what was deleted, and the database and recordings folder sizes."""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import privacy.deletion as deletion  # noqa: E402
from models import ChatStatus, CustomerSettings, create_db_app, db, upgrade_schema, utcnow  # noqa: E402
from privacy.deletion import erase_caller, purge_expired, recordings_folder_size  # noqa: E402

SCRUBS: list[float] = []  # seconds of each scrub_database() call
_scrub = deletion.scrub_database


def _timed_scrub(*args, **kwargs) -> bool:  # noqa: ANN002, ANN003
    started = time.perf_counter()
    try:
        return _scrub(*args, **kwargs)
    finally:
        SCRUBS.append(time.perf_counter() - started)


deletion.scrub_database = _timed_scrub
from config import load_settings  # noqa: E402


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _db_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def _set_retention(app, chats: int | None, recordings: int | None) -> None:
    with app.app_context():
        row = CustomerSettings.get()
        row.chat_retention_days, row.recording_retention_days = chats, recordings
        db.session.commit()
        db.session.remove()


def _timed(label: str, fn):  # noqa: ANN001, ANN202
    started = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - started
    print(f"{label}: {elapsed:.2f} s")
    return result, elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="seeded data folder (else a temp one)")
    parser.add_argument("--count", type=int, default=100_000, help="chats to seed")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args(argv)
    temp = None
    data = args.data
    if data is None:
        temp = Path(tempfile.mkdtemp(prefix="bench-privacy-"))
        data = temp / "data"
        from seed_chats import seed_chats

        settings = load_settings(data)
        data.mkdir(parents=True)
        _timed(f"seed {args.count} chats with recordings",
               lambda: seed_chats(settings.sqlalchemy_url, args.count,
                                  recordings_dir=settings.recordings_dir))
    settings = load_settings(data)
    db_path = Path(settings.sqlalchemy_url.removeprefix("sqlite:///"))
    app = create_db_app(settings.sqlalchemy_url)
    upgrade_schema(app)
    recordings = settings.recordings_dir
    with sqlite3.connect(db_path) as conn:
        chats = conn.execute("SELECT count(*) FROM chat").fetchone()[0]
        recs = conn.execute("SELECT count(*) FROM recording").fetchone()[0]
        caller = conn.execute("SELECT caller_number, count(*) c FROM chat WHERE status != ? "
                              "GROUP BY caller_number ORDER BY c DESC",
                              (ChatStatus.IN_ARBEIT.value,)).fetchone()
    print(f"database: {chats} chats, {recs} recordings, {_mb(_db_size(db_path))}; "
          f"recordings folder {_mb(recordings_folder_size(recordings))}")
    try:
        report, _ = _timed(f"erase one caller ({caller[1]} chats)", lambda: erase_caller(
            app, recordings, "0" + caller[0][2:], actor="bench", secret="bench"))
        print(f"  deleted {report.counts.chats} chats, {report.counts.files} files, "
              f"scrubbed: {report.scrubbed} (scrub {SCRUBS[-1]:.2f} s)")

        with app.app_context():
            oldest = db.session.scalar(db.text("SELECT min(started_at) FROM chat"))
            db.session.remove()
        oldest = dt.datetime.fromisoformat(str(oldest))
        day_after = oldest + dt.timedelta(days=1)
        _set_retention(app, 30, 30)
        now = day_after + dt.timedelta(days=30)  # one day of chats is past its time
        report, _ = _timed("hourly purge (one day of chats past their time)",
                           lambda: purge_expired(app, recordings, now=now))
        c = report.counts
        print(f"  deleted {c.chats} chats, {c.turns} turns, {c.recordings} recordings, "
              f"{c.files} files")
        print(f"  of which the scrub (FTS optimize + WAL truncate): {SCRUBS[-1]:.2f} s")

        _set_retention(app, 1, 1)
        far = utcnow() + dt.timedelta(days=400)
        report, _ = _timed("dry run over everything", lambda: purge_expired(
            app, recordings, now=far, dry_run=True))
        print(f"  would delete {report.counts.chats} chats, {report.counts.files} files")
        report, elapsed = _timed("purge of every chat with its recording", lambda: purge_expired(
            app, recordings, now=far))
        c = report.counts
        print(f"  deleted {c.chats} chats, {c.turns} turns, {c.events} events, "
              f"{c.recordings} recordings, {c.files} files, {c.orphan_files} orphans; "
              f"{c.chats / elapsed:.0f} chats/s; scrubbed: {report.scrubbed} "
              f"(scrub {SCRUBS[-1]:.2f} s)")
        with sqlite3.connect(db_path) as conn:
            left = conn.execute("SELECT count(*) FROM chat").fetchone()[0]
            check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        print(f"after: {left} chats left (In Arbeit), integrity_check {check}, database "
              f"{_mb(_db_size(db_path))}, recordings folder "
              f"{_mb(recordings_folder_size(recordings))}")
    finally:
        if temp is not None and not args.keep:
            shutil.rmtree(temp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
