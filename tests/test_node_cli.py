"""The node as an operator runs it: `voicegate demo`, `voicegate run`, `voicegate call`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from config import load_settings
from freeswitch_conf.dialplan import load_vars
from models import CustomerSettings, db
from tests.call_lab import free_tcp_port
from voicegate.node import build_node

VOICEGATE = [sys.executable, "-m", "voicegate.cli"]



def test_help_lists_the_subcommands():
    out = subprocess.run([*VOICEGATE, "--help"], capture_output=True, text=True, check=True)
    for command in ("run", "demo", "call", "models", "admin", "master"):
        assert command in out.stdout


@pytest.mark.slow
def test_node_without_models_says_so_and_sends_a_test_call_to_the_fallback(tmp_path: Path):
    data = tmp_path / "node"
    subprocess.run([*VOICEGATE, "demo", "--data", str(data)], check=True, capture_output=True)
    esl, admin, status = free_tcp_port(), free_tcp_port(), free_tcp_port()
    env = {**os.environ, "VOICEGATE_STATUS_PORT": str(status)}
    node = subprocess.Popen([*VOICEGATE, "run", "--data", str(data), "--esl-port", str(esl),
                             "--admin-port", str(admin)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        payload = None
        while payload is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{status}/status",
                                            timeout=1) as r:
                    payload = json.load(r)
            except OSError:
                time.sleep(0.3)
        assert payload is not None, "the node did not come up"
        assert payload["controller_up"] and not payload["engines"]["ready"]
        assert any("voicegate models pull" in p for p in payload["engines"]["problems"])

        call = subprocess.run([*VOICEGATE, "call", "4930123456", "--data", str(data),
                               "--port", str(esl), "--say", "Hallo?", "--timeout", "30"],
                              capture_output=True, text=True, timeout=60)
        assert call.returncode == 0, call.stderr
        assert "transfer voicegate_fallback XML voicegate" in call.stdout
        assert "Ersatzweiterleitung" in call.stdout and "Sprach-Engines nicht bereit" in call.stdout
    finally:
        node.terminate()  # SIGTERM, as systemctl stop sends it
        _out, err = node.communicate(timeout=30)
    assert node.returncode == 0, err[-2000:]  # a clean stop, not killed by the signal
    assert "KI-Voicegate beendet." in err
    assert "Anrufe gehen an die Ersatzweiterleitung" in err  # said on start, not only logged
    assert "voicegate admin create-user" in err  # and how to get into the admin


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
