"""The node as an operator runs it: `voicegate demo`, `voicegate run`, `voicegate call`."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
import sqlalchemy

from config import load_settings
from freeswitch_conf.dialplan import load_vars
from models import CustomerSettings, db
from tests.real_node import VOICEGATE, RealNode
from voicegate.node import build_node


def test_help_lists_the_subcommands():
    out = subprocess.run([*VOICEGATE, "--help"], capture_output=True, text=True, check=True)
    for command in ("run", "demo", "call", "models", "admin", "master"):
        assert command in out.stdout


@pytest.mark.slow
def test_node_without_models_says_so_and_sends_a_test_call_to_the_fallback(tmp_path: Path):
    node = RealNode.create(tmp_path / "node").start()  # no `voicegate models pull`
    try:
        payload = node.status()
        assert payload["controller_up"] and not payload["engines"]["ready"]
        assert any("voicegate models pull" in p for p in payload["engines"]["problems"])

        call = node.test_call("Hallo?")
        assert call.returncode == 0, call.stderr
        assert "transfer voicegate_fallback XML voicegate" in call.stdout
        assert "Ersatzweiterleitung" in call.stdout and "Sprach-Engines nicht bereit" in call.stdout
        assert node.stop(signal.SIGTERM) == 0  # as systemctl stop: a clean stop, not killed
    finally:
        node.kill()
    said = node.log_text()
    assert "KI-Voicegate beendet." in said
    assert "Anrufe gehen an die Ersatzweiterleitung" in said  # said on start, not only logged
    assert "voicegate admin create-user" in said  # and how to get into the admin


def test_the_node_database_overwrites_what_is_deleted_and_leaves_other_databases_alone(
        tmp_path: Path):
    def pragma(name: str):
        return db.session.execute(sqlalchemy.text(f"PRAGMA {name}")).scalar()

    node = build_node(load_settings(tmp_path / "node"), use_configured_engines=False)
    with node.db_app.app_context():
        assert pragma("secure_delete") == 1  # an erased caller is not left in freed pages
        assert pragma("journal_mode") == "wal" and pragma("foreign_keys") == 1
    other = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'other.sqlite3'}")
    with other.connect() as connection:  # another library's engine in the same process
        assert connection.execute(sqlalchemy.text("PRAGMA journal_mode")).scalar() == "delete"
    other.dispose()


def test_node_start_writes_the_fallback_number_for_freeswitch(tmp_path: Path):
    settings = load_settings(tmp_path, freeswitch_vars_path=str(tmp_path / "vars.xml"))
    first = build_node(settings, use_configured_engines=False)
    with first.db_app.app_context():
        CustomerSettings.get().fallback_number = "4930999888"
        db.session.commit()
    build_node(settings, use_configured_engines=False)  # the next start picks it up
    assert load_vars(tmp_path / "vars.xml")["voicegate_fallback_number"] == "4930999888"


def test_chats_cut_off_by_a_crash_are_not_left_in_arbeit(tmp_path: Path):
    from models import Chat

    settings = load_settings(tmp_path)
    first = build_node(settings, use_configured_engines=False)
    with first.db_app.app_context():
        db.session.add(Chat(call_uuid="abgebrochen", caller_number="491701234567",
                            status="in_arbeit"))
        db.session.commit()
    second = build_node(settings, use_configured_engines=False)  # the node restarts
    with second.db_app.app_context():
        chat = db.session.scalar(db.select(Chat).filter_by(call_uuid="abgebrochen"))
        assert chat.status == "neu" and chat.ended_at is not None
        assert "Neustart" in chat.events[-1].data["message"]
