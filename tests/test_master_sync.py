"""Enrolment and sync between a node and a real master over HTTPS on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from config import load_settings
from master import registry
from master.models import Node
from master.overview import find_node, health_history
from master.pki import MasterPki
from master.server import MasterServer
from master.testing import RunningMaster, start_master
from models import Chat, ChatStatus, PhoneNumber, db
from node_sync.apply import load_managed_config, managed_settings
from node_sync.client import NodeSync, enroll, is_enrolled, last_sync_status, schedule_sync
from node_sync.state import NodePaths, load_state
from tests.master_support import make_node_db
from voicegate.node import build_node


@pytest.fixture
def master(tmp_path: Path) -> Iterator[RunningMaster]:
    running = start_master(tmp_path / "master")
    yield running
    running.stop()


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    return tmp_path / "node"


@pytest.fixture
def node_db(node_dir: Path) -> Flask:
    return make_node_db(node_dir)


def enrolled_sync(master: RunningMaster, node_dir: Path, node_db: Flask, name: str = "kunde-a",
                  **kwargs: object) -> NodeSync:
    token = master.add_node(name, "Kunde A GmbH")
    enroll(master.url, token, master.ca_file, node_dir)
    kwargs.setdefault("rng", random.Random(1))
    return NodeSync(node_dir, node_db, **kwargs)  # type: ignore[arg-type]


def node_numbers(node_db: Flask) -> list[str]:
    with node_db.app_context():
        return list(db.session.scalars(select(PhoneNumber.number).order_by(PhoneNumber.number)))


def test_enrolment_gives_the_node_a_certificate_and_the_master_an_active_node(
    master: RunningMaster, node_dir: Path
) -> None:
    token = master.add_node("kunde-a")
    assert master.node("kunde-a").state == "wartet"

    enrollment = enroll(master.url, token, master.ca_file, node_dir)

    assert enrollment.node_name == "kunde-a"
    assert is_enrolled(node_dir)
    credentials = NodePaths(node_dir).credentials
    assert credentials.stat().st_mode & 0o077 == 0, "private key must be readable by owner only"
    assert master.node("kunde-a").state == "aktiv"
    assert last_sync_status(node_dir)["status_text"] == "Noch kein Abgleich"


def test_sync_applies_numbers_and_config_and_the_master_records_health(
    master: RunningMaster, node_dir: Path, node_db: Flask
) -> None:
    sync = enrolled_sync(master, node_dir, node_db, calls_in_progress=lambda: 2,
                         engine_status=lambda: {"stt": "ok", "llm": "laedt", "tts": "ok"})
    master.on_node("kunde-a", registry.add_number, "4930123456", "Zentrale")
    master.on_node("kunde-a", registry.set_config, {
        "software_version": "0.2.0",
        "engines": {"stt": "whisper", "stt_model": "small", "llm": "ollama",
                    "llm_model": "qwen2.5:7b-instruct", "tts": "piper"},
        "features": {"wissen": True},
        "limits": {"max_concurrent_calls": 4},
    })

    result = sync.sync_once()

    assert result.ok, result.error
    assert result.new_numbers == ("4930123456",)
    assert node_numbers(node_db) == ["4930123456"]
    managed = load_managed_config(node_dir)
    assert managed is not None
    assert managed.engines["stt"] == "whisper" and managed.limits == {"max_concurrent_calls": 4}
    status = last_sync_status(node_dir)
    assert status["status_text"] == "Verbunden" and status["last_error"] is None

    with master.app.app_context():
        row = find_node("kunde-a")
        assert row.applied_config_version == row.config_version
        assert row.reported_version
        [report] = health_history(row)
        assert report.calls_in_progress == 2
        assert report.engine_status == {"stt": "ok", "llm": "laedt", "tts": "ok"}
        assert report.disk_total_bytes > report.disk_free_bytes > 0
        assert report.error_counts["calls_failed_24h"] == 0


def test_the_masters_engines_and_call_limit_take_effect_when_the_node_starts(
    master: RunningMaster, node_dir: Path, node_db: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    (node_dir / "voicegate.toml").write_text('[engines]\nstt = "faster-whisper"\ntts = "piper"\n',
                                             encoding="utf-8")
    own = load_settings(node_dir)
    assert managed_settings(own) == own  # never synced: the node's own settings
    sync = enrolled_sync(master, node_dir, node_db)
    master.on_node("kunde-a", registry.set_config, {
        "software_version": "9.9.9",
        "engines": {"stt": "whisper", "stt_model": "small", "llm": "none", "tts_model": ""},
        "features": {"wissen": True},
        "limits": {"max_call_seconds": 600, "max_concurrent_calls": 4},
    })
    with caplog.at_level(logging.INFO, logger="node_sync.apply"):
        assert sync.sync_once().ok
    assert "ab dem nächsten Start" in caplog.text
    caplog.clear()

    with caplog.at_level(logging.INFO, logger="node_sync.apply"):
        started = build_node(load_settings(node_dir), use_configured_engines=False).settings

    engines = started.engines
    assert (engines.stt, engines.stt_model, engines.llm) == ("whisper", "small", "none")
    assert (engines.tts, engines.tts_model) == ("piper", own.engines.tts_model)  # not managed
    assert started.max_call_seconds == 600
    assert "Vom Master verwaltet: engines.llm=none" in caplog.text
    unused = caplog.text.split("ohne Wirkung:")[1]
    assert "features.wissen" in unused and "limits.max_concurrent_calls" in unused
    assert "software_version=9.9.9" in unused


def test_a_new_number_is_added_while_a_call_is_in_progress(
    master: RunningMaster, node_dir: Path, node_db: Flask
) -> None:
    sync = enrolled_sync(master, node_dir, node_db)
    master.on_node("kunde-a", registry.add_number, "4930111111")
    assert sync.sync_once().ok
    with node_db.app_context():
        db.session.add(Chat(call_uuid="laufender-anruf", called_number="4930111111"))
        db.session.commit()
    # The controller holds its own session during the call; the sync must not disturb it.
    with node_db.app_context():
        held = db.session.scalar(select(Chat).where(Chat.call_uuid == "laufender-anruf"))
        master.on_node("kunde-a", registry.add_number, "4930222222")
        assert sync.sync_once().ok
        held.summary = "noch im Gespräch"
        db.session.commit()

    assert node_numbers(node_db) == ["4930111111", "4930222222"]
    with node_db.app_context():
        chat = db.session.scalar(select(Chat).where(Chat.call_uuid == "laufender-anruf"))
        assert chat.status == ChatStatus.IN_ARBEIT and chat.summary == "noch im Gespräch"


def test_a_number_the_node_already_has_in_another_spelling_is_not_added_twice(
    master: RunningMaster, node_dir: Path, node_db: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with node_db.app_context():  # the customer typed them national and without "+"
        db.session.add_all([PhoneNumber(number="030123456", label="Zentrale"),
                            PhoneNumber(number="4930777777", label="Service")])
        db.session.commit()
    sync = enrolled_sync(master, node_dir, node_db)
    master.on_node("kunde-a", registry.add_number, "+4930123456")
    master.on_node("kunde-a", registry.add_number, "+4930777777")
    master.on_node("kunde-a", registry.add_number, "+4930999999")

    with caplog.at_level(logging.INFO, logger="node_sync.apply"):
        result = sync.sync_once()

    assert result.ok, result.error
    assert result.new_numbers == ("+4930999999",)
    assert node_numbers(node_db) == ["+4930999999", "030123456", "4930777777"]
    assert "nicht mehr diesem Knoten zugeordnet" not in caplog.text


def test_an_invalid_config_is_kept_out_and_reported_upward(
    master: RunningMaster, node_dir: Path, node_db: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    sync = enrolled_sync(master, node_dir, node_db)
    master.on_node("kunde-a", registry.set_config, {"engines": {"tts": "espeak"}})
    assert sync.sync_once().ok
    good_version = load_state(NodePaths(node_dir)).applied_config_version

    def store_unknown_engine(node: Node) -> None:  # a newer master knows engines we do not
        node.desired_config = {"engines": {"tts": "zukunfts-tts"}}
        node.config_version += 1
        registry.mdb.session.commit()

    master.on_node("kunde-a", store_unknown_engine)
    with caplog.at_level(logging.ERROR, logger="node_sync.client"):
        assert sync.sync_once().ok

    assert "zukunfts-tts" in caplog.text and "bisherige Konfiguration" in caplog.text
    managed = load_managed_config(node_dir)
    assert managed is not None and managed.engines == {"tts": "espeak"}
    assert load_state(NodePaths(node_dir)).applied_config_version == good_version
    with master.app.app_context():
        row = find_node("kunde-a")
        assert "zukunfts-tts" in row.config_error
        assert row.applied_config_version == good_version < row.config_version
    assert "ungültig" in last_sync_status(node_dir)["config_error"]


def _same_answer_app(status: int, body: bytes, hits: threading.Event) -> Callable[..., list]:
    """A WSGI app that answers every request the same way (served with the master's real
    certificate, so TLS succeeds and only the answer is wrong)."""

    def app(environ: dict, start_response: Callable[..., object]) -> list[bytes]:
        hits.set()
        start_response(f"{status} X", [("Content-Type", "application/json")])
        return [body]

    return app


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (500, b"<html>Internal Server Error</html>", "HTTP 500"),
        (200, b"{nicht json", "ungültigem JSON"),
        (200, b"[1, 2, 3]", "kein Objekt"),
        (403, json.dumps({"error": "Zertifikat widerrufen"}).encode(), "widerrufen"),
    ],
)
def test_garbage_or_500_from_the_master_keeps_the_last_config(
    master: RunningMaster, node_dir: Path, node_db: Flask, caplog: pytest.LogCaptureFixture,
    status: int, body: bytes, expected: str,
) -> None:
    sync = enrolled_sync(master, node_dir, node_db)
    master.on_node("kunde-a", registry.add_number, "4930123456")
    assert sync.sync_once().ok
    port = master.port
    master.stop()

    hits = threading.Event()
    app = _same_answer_app(status, body, hits)
    pki: MasterPki = master.app.extensions["voicegate_master_pki"]
    bad = MasterServer("127.0.0.1", port, app, pki.server_context()).start()
    try:
        with caplog.at_level(logging.WARNING):
            result = sync.sync_once()
    finally:
        bad.stop()

    assert hits.is_set()
    assert not result.ok and expected in (result.error or "")
    assert "Master-Abgleich fehlgeschlagen" in caplog.text and expected in caplog.text
    assert node_numbers(node_db) == ["4930123456"]
    assert load_managed_config(node_dir) is not None


def test_master_down_mid_run_node_keeps_config_backs_off_and_reports_the_gap(
    master: RunningMaster, node_dir: Path, node_db: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    now = [time.time()]
    sync = enrolled_sync(master, node_dir, node_db, interval_s=60, clock=lambda: now[0])
    master.on_node("kunde-a", registry.add_number, "4930123456")
    assert sync.run_scheduled().ok
    port = master.port

    master.stop()
    attempts: list[float] = []
    with caplog.at_level(logging.WARNING, logger="node_sync.client"):
        for _ in range(6 * 60):  # six simulated hours, the job fires every minute
            now[0] += 60
            result = sync.run_scheduled()
            if result.attempted:
                assert not result.ok
                attempts.append(now[0])
    gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
    for i, gap in enumerate(gaps[:5]):  # 1, 2, 4, 8, 16 minutes (±10 % jitter)
        assert 0.9 * 60 * 2**i <= gap <= 1.1 * 60 * 2**i + 60
    assert max(gaps) <= 1800 * 1.1 + 60, "backoff is capped at 30 minutes"
    assert "Master nicht erreichbar" in caplog.text
    status = last_sync_status(node_dir, now=dt.datetime.fromtimestamp(now[0], dt.UTC))
    assert status["status"] == "gestoert" and status["consecutive_failures"] == len(attempts)
    assert "Std." in status["gap_text"] and "keine Verbindung" in status["gap_text"]
    assert node_numbers(node_db) == ["4930123456"], "node keeps its last configuration"

    master.port = port
    master.start()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="node_sync.client"):
        while not (result := sync.run_scheduled()).attempted:
            now[0] += 60
    assert result.ok, result.error
    assert "Master wieder erreichbar" in caplog.text
    assert last_sync_status(node_dir)["status_text"] == "Verbunden"
    with master.app.app_context():
        reports = health_history(find_node("kunde-a"))
        gap_report = reports[0]
        assert gap_report.gap_failed_attempts == len(attempts)
        assert (gap_report.gap_until - gap_report.gap_since).total_seconds() > 5 * 3600


def test_schedule_sync_adds_a_job_that_syncs(
    master: RunningMaster, node_dir: Path, node_db: Flask
) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    enrolled_sync(master, node_dir, node_db)
    master.on_node("kunde-a", registry.add_number, "4930999999")
    scheduler = BackgroundScheduler(timezone="UTC")
    applied = threading.Event()
    schedule_sync(scheduler, node_dir, node_db, interval_s=3600,
                  on_config_applied=lambda config: applied.set())
    scheduler.start()
    try:
        assert applied.wait(15), "the first sync runs right away"
    finally:
        scheduler.shutdown()
    assert node_numbers(node_db) == ["4930999999"]



def test_health_keeps_to_the_allow_list_whatever_the_runner_reports(
    master: RunningMaster, node_dir: Path, node_db: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_count() -> int:
        raise RuntimeError("Controller antwortet nicht")

    problem = "Whisper-Modell /daten/modelle/geheim-xyz fehlt"
    sync = enrolled_sync(
        master, node_dir, node_db, calls_in_progress=broken_count,
        engine_status=lambda: {"ready": False, "problems": [problem], "stt": "kaputt-text"},
        error_counts=lambda: {"tts_timeouts": 4, "Ungültiger Name": 1},
    )
    with caplog.at_level(logging.ERROR, logger="node_sync.health"):
        assert sync.sync_once().ok
    assert "Laufende Anrufe für die Zustandsmeldung nicht ermittelbar" in caplog.text

    with master.app.app_context():
        [report] = health_history(find_node("kunde-a"))
        assert report.engine_status == {"stt": "unbekannt", "gesamt": "fehler"}
        assert report.error_counts == {"calls_failed_24h": 0, "sync_failures": 0,
                                       "tts_timeouts": 4, "engine_problems": 1}
        assert report.calls_in_progress == 0
    assert master.scan_for([problem, "kaputt-text", "Ungültiger Name"]) == []
