"""Fill a node's database with N realistic German chats (for the admin benchmark and demos).

    .venv/bin/python scripts/seed_chats.py --data /tmp/bench-data --count 100000

Rows go in through the normal tables, so the search index (migration 0002's triggers) is
built exactly as it is when the controller writes calls. ``--recordings`` also writes a short
stereo WAV per finished chat into ``<data>/recordings/YYYY/MM/DD/`` with its ``recording`` row,
as the controller does (for the purge benchmark, bench/bench_privacy.py)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import random
import sys
import time
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config import load_settings  # noqa: E402
from models import ChatStatus, create_db_app, db, upgrade_schema  # noqa: E402

log = logging.getLogger(__name__)

FIRST = ["Anna", "Jürgen", "Erika", "Hans", "Sabine", "Mehmet", "Katrin", "Lukas", "Sophie",
         "Thomas", "Monika", "Stefan", "Leonie", "Ali", "Birgit", "Jan", "Petra", "Özlem"]
LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
        "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Yılmaz"]
AGENTS = ["Empfang", "Buchhaltung", "Technik", "Notdienst", "Mailbox", "Terminvergabe"]
CONCERNS = [
    ("Rechnung", "Fragt nach der Rechnung {n} vom {d}. Bittet um Rückruf.",
     "Ich habe eine Frage zu meiner Rechnung Nummer {n}.", "Buchhaltung"),
    ("Störung", "Meldet eine Störung der Heizung seit {d}. Dringend.",
     "Unsere Heizung ist seit {d} ausgefallen, es ist eiskalt.", "Technik"),
    ("Termin", "Möchte einen Termin am {d} vereinbaren.",
     "Ich hätte gern einen Termin, am liebsten am {d}.", "Terminvergabe"),
    ("Rückruf", "Bittet um Rückruf wegen Angebot {n}.",
     "Können Sie mich bitte wegen des Angebots {n} zurückrufen?", "Empfang"),
    ("Beschwerde", "Beschwert sich über die Lieferung vom {d}.",
     "Die Lieferung vom {d} war leider unvollständig.", "Empfang"),
    ("Notfall", "Wasserschaden im Keller, Notdienst verständigt.",
     "Bei uns steht das Wasser im Keller, bitte schnell!", "Notdienst"),
]


def _chat_rows(rng: random.Random, first_id: int, count: int, start: dt.datetime,
               end: dt.datetime):
    span = (end - start).total_seconds()
    offsets = sorted(rng.random() * span for _ in range(count))
    for index, offset in enumerate(offsets):
        chat_id = first_id + index
        started = start + dt.timedelta(seconds=offset)
        tag, summary, said, agent = rng.choice(CONCERNS)
        n, day = rng.randint(10000, 99999), f"{rng.randint(1, 28)}.{rng.randint(1, 12)}."
        age = count - index
        if age <= 3:
            status = ChatStatus.IN_ARBEIT
        elif age <= 300:
            status = ChatStatus.NEU if rng.random() < 0.6 else ChatStatus.ERLEDIGT
        else:
            status = ChatStatus.NEU if rng.random() < 0.03 else ChatStatus.ERLEDIGT
        name = "" if rng.random() < 0.15 else f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        number = f"49{rng.choice(['151', '170', '176', '30', '40', '89', '221'])}" \
                 f"{rng.randint(1000000, 9999999)}"
        tags = [tag] + (["Rückruf"] if tag != "Rückruf" and rng.random() < 0.3 else [])
        duration = rng.randint(20, 400)
        ended = None if status == ChatStatus.IN_ARBEIT else started + dt.timedelta(seconds=duration)
        handover = agent != "Empfang" and rng.random() < 0.7
        chat = (chat_id, f"seed-{chat_id}", "4930123456", number, name, "Bürozeiten",
                "Empfang", agent if handover else "Empfang", status, started, started, ended,
                "" if ended is None else "agent_hangup", "",
                "" if status == ChatStatus.IN_ARBEIT else summary.format(n=n, d=day),
                json.dumps(tags), "")
        lines = [("agent", "Empfang", "Firma Beispiel, guten Tag! Wie kann ich helfen?"),
                 ("caller", "", said.format(n=n, d=day)),
                 ("agent", "Empfang", "Einen Moment, ich kümmere mich darum.")]
        if handover:
            lines.append(("agent", agent, f"Hier ist die {agent}, worum genau geht es?"))
        lines += [("caller", "", f"Mein Name ist {name or 'unbekannt'}, "
                                 f"meine Nummer ist {number}."),
                  ("agent", agent, "Vielen Dank, wir melden uns. Auf Wiederhören!")]
        turns = [(chat_id, seq, role, agent_name, text,
                  started + dt.timedelta(seconds=4 * seq), False,
                  json.dumps({"stt": 180, "llm_ttft": 420, "total": 900} if role == "agent"
                             else {}))
                 for seq, (role, agent_name, text) in enumerate(lines, start=1)]
        events = [(chat_id, 1, "window", started, json.dumps({"window": "Bürozeiten",
                                                              "agent": "Empfang"}))]
        if handover:
            events.append((chat_id, 2, "handover", started + dt.timedelta(seconds=10),
                           json.dumps({"from_agent": "Empfang", "to_agent": agent,
                                       "reason": tag})))
        yield chat, turns, events


CHAT_SQL = (
    "INSERT INTO chat (id, call_uuid, called_number, caller_number, caller_name, window_name, "
    "start_agent_name, last_agent_name, status, started_at, answered_at, ended_at, end_reason, "
    "transferred_to, summary, tags, followup_note, summary_is_extract) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)"
)
TURN_SQL = ("INSERT INTO turn (chat_id, seq, role, agent_name, text, at, interrupted, timings) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
EVENT_SQL = "INSERT INTO chat_event (chat_id, seq, kind, at, data) VALUES (?, ?, ?, ?, ?)"
RECORDING_SQL = ("INSERT INTO recording (chat_id, path, sample_rate, channels, duration_s) "
                 "VALUES (?, ?, 8000, 2, ?)")
RECORDING_SECONDS = 0.25  # 8 kHz stereo 16 bit: 8 KB per file


def _wav_bytes(seconds: float) -> bytes:
    import io

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(bytes(int(8000 * seconds) * 4))
    return buffer.getvalue()


def _write_recordings(recordings_dir: Path, chats: list[tuple]) -> list[tuple]:
    """One file per finished chat (chat tuple: id, uuid, …, status at 8, started at 9)."""
    data = _wav_bytes(RECORDING_SECONDS)
    rows = []
    for chat in chats:
        if chat[8] == ChatStatus.IN_ARBEIT:
            continue
        relative = f"{chat[9][:10].replace('-', '/')}/{chat[1]}.wav"
        path = recordings_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        rows.append((chat[0], relative, RECORDING_SECONDS))
    return rows


def _sql_time(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if value else None  # as SQLAlchemy writes


def seed_chats(database_url: str, count: int, *, seed: int = 1, days: int = 365,
               batch: int = 2000, recordings_dir: Path | None = None) -> int:
    """Add ``count`` chats spread over the last ``days`` days; returns how many were added."""
    app = create_db_app(database_url)
    upgrade_schema(app)
    rng = random.Random(seed)
    end = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            first_id = (cursor.execute("SELECT max(id) FROM chat").fetchone()[0] or 0) + 1
            chats, turns, events = [], [], []
            for chat, chat_turns, chat_events in _chat_rows(
                    rng, first_id, count, end - dt.timedelta(days=days), end):
                chats.append(tuple(_sql_time(v) if isinstance(v, dt.datetime) else v
                                   for v in chat))
                turns += [t[:5] + (_sql_time(t[5]),) + t[6:] for t in chat_turns]
                events += [e[:3] + (_sql_time(e[3]),) + e[4:] for e in chat_events]
                if len(chats) >= batch:
                    _flush(cursor, chats, turns, events, recordings_dir)
                    raw.commit()
                    chats, turns, events = [], [], []
            _flush(cursor, chats, turns, events, recordings_dir)
            raw.commit()
            cursor.execute("ANALYZE")
            raw.commit()
        finally:
            raw.close()
    return count


def _flush(cursor, chats: list, turns: list, events: list,
           recordings_dir: Path | None = None) -> None:
    cursor.executemany(CHAT_SQL, chats)
    cursor.executemany(TURN_SQL, turns)
    cursor.executemany(EVENT_SQL, events)
    if recordings_dir is not None:
        cursor.executemany(RECORDING_SQL, _write_recordings(recordings_dir, chats))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="Datenordner des Knotens")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--recordings", action="store_true",
                        help="eine kurze WAV-Aufnahme je beendetem Chat schreiben")
    parser.add_argument("--days", type=int, default=365,
                        help="Chats über so viele Tage bis heute verteilen")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    settings = load_settings(args.data)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    seed_chats(settings.sqlalchemy_url, args.count, seed=args.seed, days=args.days,
               recordings_dir=settings.recordings_dir if args.recordings else None)
    print(f"{args.count} Chats angelegt in {settings.sqlalchemy_url} "
          f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
