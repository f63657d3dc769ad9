"""The node's side of the master link, on disk in ``<data>/master/``.

``node.pem``        the node's private key and its certificate in one file (0600), so a renewal
                    replaces both atomically
``ca.crt``          the master's CA, the only trust anchor for the master's server certificate
``enrollment.json`` master URL, node id and name
``sync_state.json`` last success, last error, the current outage, replay counter, applied config
``managed.json``    the configuration the master manages (engines, feature flags, limits)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from sync_contract.pki import write_private

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NodePaths:
    data_dir: Path

    @property
    def directory(self) -> Path:
        return self.data_dir / "master"

    @property
    def credentials(self) -> Path:
        return self.directory / "node.pem"

    @property
    def ca(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def enrollment(self) -> Path:
        return self.directory / "enrollment.json"

    @property
    def state(self) -> Path:
        return self.directory / "sync_state.json"

    @property
    def managed(self) -> Path:
        return self.directory / "managed.json"


@dataclass(frozen=True)
class Enrollment:
    master_url: str
    node_id: int
    node_name: str
    enrolled_at: str


@dataclass
class SyncState:
    seq: int = 0
    last_attempt_at: str | None = None
    last_success_at: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None
    consecutive_failures: int = 0
    gap_since: str | None = None  # first failed attempt of the current outage
    next_attempt_at: float = 0.0  # epoch seconds; backoff after failures
    applied_config_version: int | None = None
    applied_digest: str | None = None
    rejected_digest: str | None = None
    config_error: str | None = None


def utc_iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def parse_utc(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomic: a reader (the admin's system page) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.error("Datei %s ist beschädigt und wird ignoriert: %s", path, exc)
        return None
    return data if isinstance(data, dict) else None


def load_enrollment(paths: NodePaths) -> Enrollment | None:
    data = read_json(paths.enrollment)
    if data is None or not paths.credentials.exists() or not paths.ca.exists():
        return None
    return Enrollment(**{f.name: data[f.name] for f in dataclasses.fields(Enrollment)})


def save_enrollment(paths: NodePaths, enrollment: Enrollment) -> None:
    write_json(paths.enrollment, dataclasses.asdict(enrollment))


def load_state(paths: NodePaths) -> SyncState:
    data = read_json(paths.state) or {}
    known = {f.name for f in dataclasses.fields(SyncState)}
    return SyncState(**{k: v for k, v in data.items() if k in known})


def save_state(paths: NodePaths, state: SyncState) -> None:
    write_json(paths.state, dataclasses.asdict(state))


def save_credentials(paths: NodePaths, key_pem: bytes, cert_pem: bytes) -> None:
    write_private(paths.credentials, key_pem + cert_pem)


def load_node_cert(paths: NodePaths) -> x509.Certificate:
    text = paths.credentials.read_text()
    start = text.index("-----BEGIN CERTIFICATE-----")
    return x509.load_pem_x509_certificate(text[start:].encode())
