"""``voicegate master …`` end to end: CA, node, operator, enrolment, status, and ``run`` as a real
process serving HTTPS."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from master.testing import start_master
from node_sync.client import is_enrolled
from voicegate.cli import build_parser


def voicegate_master(*argv: str) -> int:
    """``voicegate master …`` as the operator types it: the server's commands and the node's
    (enroll, sync, status) in one group."""
    args = build_parser().parse_args(["master", *argv])
    return args.func(args)


def test_init_ca_add_node_and_enroll_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    master_dir, node_dir = tmp_path / "master", tmp_path / "node"
    assert voicegate_master("init-ca", "--data", str(master_dir), "--host", "127.0.0.1") == 0
    assert (master_dir / "pki" / "ca.crt").exists()
    assert (master_dir / "pki" / "ca.key").stat().st_mode & 0o077 == 0

    assert voicegate_master("add-node", "kunde-a", "--data", str(master_dir),
                            "--customer", "Bäckerei Schmidt") == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert voicegate_master("add-node", "kunde-a", "--data", str(master_dir)) == 1
    assert "gibt es schon" in capsys.readouterr().err

    running = start_master(master_dir)
    try:
        assert voicegate_master("enroll", "--master", running.url, "--token", token,
                                "--ca", str(master_dir / "pki" / "ca.crt"),
                                "--data", str(node_dir)) == 0
        assert "Registriert als Knoten kunde-a" in capsys.readouterr().out
        assert is_enrolled(node_dir)

        assert voicegate_master("enroll", "--master", running.url, "--token", token,
                                "--ca", str(master_dir / "pki" / "ca.crt"),
                                "--data", str(tmp_path / "zweiter")) == 1
        assert "bereits verwendet" in capsys.readouterr().err
    finally:
        running.stop()

    assert voicegate_master("status", "--data", str(node_dir)) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["node_name"] == "kunde-a" and status["status_text"] == "Noch kein Abgleich"

    assert voicegate_master("revoke", "kunde-a", "--data", str(master_dir)) == 0
    assert "gesperrt" in capsys.readouterr().out
    assert voicegate_master("token", "kunde-a", "--data", str(master_dir)) == 0
    assert len(capsys.readouterr().out.strip().splitlines()[-1]) >= 40
    assert voicegate_master("token", "unbekannt", "--data", str(master_dir)) == 1


def test_add_operator_reads_the_password_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    master_dir = tmp_path / "master"
    assert voicegate_master("init-ca", "--data", str(master_dir), "--host", "127.0.0.1") == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("kurz\n"))
    assert voicegate_master("add-operator", "betrieb", "--password-stdin",
                            "--data", str(master_dir)) == 1
    assert "mindestens 10 Zeichen" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("ein-langes-passwort\n"))
    assert voicegate_master("add-operator", "betrieb", "--password-stdin",
                            "--data", str(master_dir)) == 0


@pytest.mark.slow
def test_master_run_serves_https_and_stops_on_sigterm(tmp_path: Path) -> None:
    master_dir = tmp_path / "master"
    assert voicegate_master("init-ca", "--data", str(master_dir), "--host", "127.0.0.1") == 0
    with subprocess.Popen(
        [sys.executable, "-c", "from voicegate.cli import main; raise SystemExit(main())",
         "master", "run", "--data", str(master_dir), "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert "Master läuft auf https://127.0.0.1:" in line
            url = line.split(" auf ")[1].split("/ ")[0]
            ca = str(master_dir / "pki" / "ca.crt")
            answer = requests.get(f"{url}/api/node/v1/config", verify=ca, timeout=10)
            assert answer.status_code == 401
            assert answer.json()["error"] == "Client-Zertifikat erforderlich"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
