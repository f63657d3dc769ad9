"""Per-node authentication with client certificates: isolation between nodes, expired, revoked
and foreign credentials, a wrong CA and replayed requests — each refused with a clear log line."""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from master import registry
from master.models import HealthReport, Node, mdb
from master.overview import health_history
from master.pki import CertificateAuthority
from master.testing import RunningMaster, start_master
from models import PhoneNumber, db
from node_sync.client import NodeSync, enroll
from node_sync.state import NodePaths, load_node_cert, save_credentials
from sync_contract.pki import cert_pem, key_pem, make_csr, new_key
from tests.master_support import make_node_db


@pytest.fixture
def master(tmp_path: Path) -> Iterator[RunningMaster]:
    running = start_master(tmp_path / "master")
    yield running
    running.stop()


def make_node(master: RunningMaster, tmp_path: Path, name: str) -> tuple[NodeSync, Path, Flask]:
    data_dir = tmp_path / name
    node_db = make_node_db(data_dir)
    enroll(master.url, master.add_node(name), master.ca_file, data_dir)
    return NodeSync(data_dir, node_db, rng=random.Random(1)), data_dir, node_db


def as_node(data_dir: Path, method: str, url: str, **kwargs: object) -> requests.Response:
    paths = NodePaths(data_dir)
    return requests.request(method, url, verify=str(paths.ca), cert=str(paths.credentials),
                            timeout=10, **kwargs)  # type: ignore[arg-type]


def wait_for_log(caplog: pytest.LogCaptureFixture, text: str, timeout_s: float = 3.0) -> bool:
    """The master logs a refused handshake in its connection thread, which may finish just after
    the client has seen the alert."""
    deadline = time.monotonic() + timeout_s
    while text not in caplog.text:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def numbers(node_db: Flask) -> set[str]:
    with node_db.app_context():
        return set(db.session.scalars(select(PhoneNumber.number)))


def health_count(master: RunningMaster, name: str) -> int:
    return master.on_node(name, lambda node: len(health_history(node, 1000)))


def test_node_a_cannot_read_or_change_node_b(
    master: RunningMaster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sync_a, dir_a, db_a = make_node(master, tmp_path, "kunde-a")
    sync_b, dir_b, db_b = make_node(master, tmp_path, "kunde-b")
    master.on_node("kunde-a", registry.add_number, "4930100000")
    master.on_node("kunde-b", registry.add_number, "4940200000")
    master.on_node("kunde-b", registry.set_config, {"features": {"nur_fuer_b": True}})
    assert sync_a.sync_once().ok and sync_b.sync_once().ok
    assert numbers(db_a) == {"4930100000"} and numbers(db_b) == {"4940200000"}

    # Reading: the config answer is chosen by the certificate alone; query strings do not count.
    answer = as_node(dir_a, "GET", f"{master.url}/api/node/v1/config?node=kunde-b").json()
    assert answer["numbers"] == [{"number": "4930100000", "label": ""}]
    assert "nur_fuer_b" not in json.dumps(answer)
    # The operator API is closed to node certificates.
    for path in ("/api/v1/nodes/kunde-b", "/api/v1/nodes", "/api/v1/numbers"):
        assert as_node(dir_a, "GET", master.url + path).status_code == 401

    # Writing: no field can name another node.
    before_b = health_count(master, "kunde-b")
    with caplog.at_level(logging.WARNING, logger="master.node_api"):
        response = as_node(dir_a, "POST", f"{master.url}/api/node/v1/health",
                           json={"node": "kunde-b", "seq": 10**13})
    assert response.status_code == 400
    assert "unbekannte Felder: node" in caplog.text
    assert as_node(dir_a, "PUT", f"{master.url}/api/v1/nodes/kunde-b/config",
                   json={"config": {}}).status_code == 401
    assert health_count(master, "kunde-b") == before_b
    assert master.node("kunde-b").desired_config == {
        "software_version": "", "engines": {}, "features": {"nur_fuer_b": True}, "limits": {},
    }

    # A certificate forged into a header is not a TLS client certificate.
    cert_b = NodePaths(dir_b).credentials.read_text().split("-----BEGIN CERTIFICATE-----")[1]
    with caplog.at_level(logging.WARNING, logger="master.registry"):
        spoofed = requests.get(
            f"{master.url}/api/node/v1/config", verify=str(master.ca_file), timeout=10,
            headers={"SSL-Client-Cert": cert_b.replace("\n", " ").strip()},
        )
    assert spoofed.status_code == 401
    assert "ohne Client-Zertifikat" in caplog.text


def test_a_revoked_node_is_refused(
    master: RunningMaster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sync, data_dir, _ = make_node(master, tmp_path, "kunde-a")
    assert sync.sync_once().ok
    master.on_node("kunde-a", registry.revoke_node)

    with caplog.at_level(logging.WARNING):
        result = sync.sync_once()

    assert not result.ok and "HTTP 403" in (result.error or "")
    assert "widerrufenes Zertifikat" in caplog.text
    assert "Master-Abgleich fehlgeschlagen" in caplog.text


def _install_certificate(master: RunningMaster, data_dir: Path, *, age_days: int,
                         valid_days: int) -> None:
    """Give the node a certificate from the master's CA with a chosen validity window (and
    record it at the master, as a real enrolment would)."""
    ca: CertificateAuthority = master.app.extensions["voicegate_master_ca"]
    key = new_key()
    node = master.node("kunde-a")
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=age_days)
    cert = ca.sign_node_csr(make_csr(key), node.id, days=valid_days, not_before=start)
    master.on_node("kunde-a", lambda n: (registry._record_certificate(n, cert),
                                         mdb.session.commit()))
    save_credentials(NodePaths(data_dir), key_pem(key), cert_pem(cert))


def test_an_expired_certificate_is_refused_by_node_and_master(
    master: RunningMaster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sync, data_dir, _ = make_node(master, tmp_path, "kunde-a")
    _install_certificate(master, data_dir, age_days=10, valid_days=5)

    with caplog.at_level(logging.WARNING):
        result = sync.sync_once()
    assert not result.ok and "abgelaufen" in (result.error or "")
    assert "Knotenzertifikat ist am" in caplog.text

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="master.server"):
        with pytest.raises(requests.exceptions.RequestException):
            as_node(data_dir, "GET", f"{master.url}/api/node/v1/config")
    assert wait_for_log(caplog, "TLS-Handshake mit 127.0.0.1 abgelehnt")
    assert "certificate has expired" in caplog.text


def test_a_certificate_close_to_expiry_is_renewed_during_sync(
    master: RunningMaster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sync, data_dir, _ = make_node(master, tmp_path, "kunde-a")
    _install_certificate(master, data_dir, age_days=1, valid_days=10)
    old_not_after = load_node_cert(NodePaths(data_dir)).not_valid_after_utc

    with caplog.at_level(logging.INFO, logger="node_sync.client"):
        assert sync.sync_once().ok
    assert "Knotenzertifikat erneuert" in caplog.text
    assert load_node_cert(NodePaths(data_dir)).not_valid_after_utc > old_not_after + dt.timedelta(
        days=300)
    assert sync.sync_once().ok, "the renewed certificate works"


def test_a_node_that_trusts_another_ca_refuses_the_master(
    master: RunningMaster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sync, data_dir, node_db = make_node(master, tmp_path, "kunde-a")
    master.on_node("kunde-a", registry.add_number, "4930100000")
    NodePaths(data_dir).ca.write_bytes(cert_pem(CertificateAuthority.create().cert))

    with caplog.at_level(logging.WARNING, logger="node_sync.client"):
        result = sync.sync_once()

    assert not result.ok and "TLS-Fehler" in (result.error or "")
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
    assert numbers(node_db) == set(), "nothing from an untrusted server is applied"


def test_a_client_certificate_from_another_ca_is_refused(
    master: RunningMaster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sync, data_dir, _ = make_node(master, tmp_path, "kunde-a")
    rogue_ca = CertificateAuthority.create("Fremde CA")
    key = new_key()
    rogue = rogue_ca.sign_node_csr(make_csr(key), master.node("kunde-a").id, days=30)
    save_credentials(NodePaths(data_dir), key_pem(key), cert_pem(rogue))

    with caplog.at_level(logging.WARNING):
        result = sync.sync_once()

    assert not result.ok and "TLS-Fehler" in (result.error or "")
    assert wait_for_log(caplog, "TLS-Handshake mit 127.0.0.1 abgelehnt")
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text


def test_replayed_health_reports_and_enrolment_tokens_are_refused(
    master: RunningMaster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sync, data_dir, _ = make_node(master, tmp_path, "kunde-a")
    assert sync.sync_once().ok
    [original] = [r for r in master.recorder.requests if r.path == "/api/node/v1/health"]
    stored = health_count(master, "kunde-a")

    with caplog.at_level(logging.WARNING, logger="master.registry"):
        replayed = as_node(data_dir, "POST", f"{master.url}/api/node/v1/health",
                           data=original.body, headers={"Content-Type": "application/json"})
    assert replayed.status_code == 409
    assert "Wiederholte Zustandsmeldung von Knoten kunde-a verworfen" in caplog.text

    stale = json.loads(original.body)
    stale["seq"] += 10**9
    stale["sent_at"] = "2020-01-01T00:00:00+00:00"
    with caplog.at_level(logging.WARNING, logger="master.registry"):
        refused = as_node(data_dir, "POST", f"{master.url}/api/node/v1/health", json=stale)
    assert refused.status_code == 409
    assert "weicht" in caplog.text
    assert health_count(master, "kunde-a") == stored
    assert sync.sync_once().ok, "the node itself is not locked out by the replays"

    [enrolment] = [r for r in master.recorder.requests if r.path == "/api/node/v1/enroll"]
    with caplog.at_level(logging.WARNING, logger="master.registry"):
        again = requests.post(f"{master.url}/api/node/v1/enroll", data=enrolment.body,
                              headers={"Content-Type": "application/json"},
                              verify=str(master.ca_file), timeout=10)
    assert again.status_code == 403
    assert "Token wurde bereits am" in caplog.text
    with master.app.app_context():
        node = mdb.session.scalar(select(Node).where(Node.name == "kunde-a"))
        assert sum(c.revoked_at is None for c in node.certificates) == 1
        assert mdb.session.query(HealthReport).count() == stored + 1
