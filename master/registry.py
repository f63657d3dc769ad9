"""What the master does with nodes: create, enrol, authenticate, revoke, configure, record health.

Used by the node API, the operator UI/JSON API and the CLI alike (one way to do each thing).
All functions run inside an app context and commit their own changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from cryptography import x509
from sqlalchemy import delete, select, update

from models.phone import normalize_number
from sync_contract.config_schema import validate_config, validate_number
from sync_contract.health_schema import HealthReportData
from sync_contract.pki import cert_pem, load_cert, load_csr

from .models import (
    EnrollmentToken,
    HealthReport,
    Node,
    NodeCertificate,
    Operator,
    RoutedNumber,
    mdb,
    utcnow,
)
from .pki import CertificateAuthority, fingerprint, serial_hex

log = logging.getLogger(__name__)

NODE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_hasher = PasswordHasher()


class RegistryError(Exception):
    """A refused operation; ``status`` is the HTTP status an API answers with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _naive(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- nodes and enrolment -----------------------------------------------------------------------


def create_node(name: str, customer: str = "", address: str = "") -> Node:
    if not NODE_NAME_RE.match(name):
        raise RegistryError(
            "Name: Kleinbuchstaben, Ziffern und Bindestrich, 2 bis 63 Zeichen"
        )
    if mdb.session.scalar(select(Node).where(Node.name == name)) is not None:
        raise RegistryError(f"Knoten {name} gibt es schon", 409)
    node = Node(name=name, customer=customer[:200], address=address[:200], desired_config={})
    mdb.session.add(node)
    mdb.session.commit()
    log.info("Knoten %s (id %d) angelegt", name, node.id)
    return node


def issue_token(node: Node, hours: float) -> str:
    """A fresh one-time enrolment token for ``node``; earlier unused tokens stop working."""
    now = utcnow()
    mdb.session.execute(
        delete(EnrollmentToken).where(
            EnrollmentToken.node_id == node.id, EnrollmentToken.used_at.is_(None)
        )
    )
    token = secrets.token_urlsafe(32)
    mdb.session.add(EnrollmentToken(
        node_id=node.id, token_hash=token_hash(token), expires_at=now + dt.timedelta(hours=hours)
    ))
    mdb.session.commit()
    log.info("Registrierungs-Token für Knoten %s ausgestellt (gültig %s h)", node.name, hours)
    return token


def _record_certificate(node: Node, cert: x509.Certificate) -> NodeCertificate:
    row = NodeCertificate(
        node_id=node.id,
        serial=serial_hex(cert),
        fingerprint=fingerprint(cert),
        not_before=_naive(cert.not_valid_before_utc),
        not_after=_naive(cert.not_valid_after_utc),
    )
    mdb.session.add(row)
    return row


def enroll(token: str, csr_pem: str, ca: CertificateAuthority, days: int) -> tuple[Node, str]:
    """Exchange a one-time token and a CSR for a client certificate (PEM)."""
    if not isinstance(token, str) or not isinstance(csr_pem, str) or len(csr_pem) > 10_000:
        raise RegistryError("token und csr erwartet")
    row = mdb.session.scalar(
        select(EnrollmentToken).where(EnrollmentToken.token_hash == token_hash(token))
    )
    now = utcnow()
    if row is None:
        log.warning("Registrierung mit unbekanntem Token abgelehnt")
        raise RegistryError("Registrierungs-Token unbekannt", 403)
    node = mdb.session.get(Node, row.node_id)
    assert node is not None
    if row.used_at is not None:
        log.warning(
            "Registrierung für Knoten %s abgelehnt: Token wurde bereits am %s verwendet "
            "(wiederholte Anfrage?)", node.name, row.used_at.isoformat(timespec="seconds"),
        )
        raise RegistryError("Registrierungs-Token bereits verwendet", 403)
    if row.expires_at <= now:
        log.warning("Registrierung für Knoten %s abgelehnt: Token abgelaufen", node.name)
        raise RegistryError("Registrierungs-Token abgelaufen", 403)
    try:
        cert = ca.sign_node_csr(load_csr(csr_pem), node.id, days=days)
    except ValueError as exc:
        log.warning("Registrierung für Knoten %s abgelehnt: CSR ungültig (%s)", node.name, exc)
        raise RegistryError("CSR ungültig") from exc
    row.used_at = now
    for old in node.certificates:  # re-enrolment replaces every earlier credential
        if old.revoked_at is None:
            old.revoked_at = now
    _record_certificate(node, cert)
    node.state = "aktiv"
    node.enrolled_at = now
    mdb.session.commit()
    log.info("Knoten %s registriert, Zertifikat %s gültig bis %s", node.name, serial_hex(cert),
             cert.not_valid_after_utc.date().isoformat())
    return node, cert_pem(cert).decode()


def renew(node: Node, csr_pem: str, ca: CertificateAuthority, days: int) -> str:
    """A new certificate for an authenticated node; the old one stays valid until it expires."""
    try:
        cert = ca.sign_node_csr(load_csr(csr_pem), node.id, days=days)
    except ValueError as exc:
        raise RegistryError("CSR ungültig") from exc
    _record_certificate(node, cert)
    mdb.session.commit()
    log.info("Zertifikat von Knoten %s erneuert: %s", node.name, serial_hex(cert))
    return cert_pem(cert).decode()


def revoke_node(node: Node) -> int:
    """Block ``node``: every certificate revoked, state ``gesperrt``. Returns how many."""
    now = utcnow()
    count = 0
    for cert in node.certificates:
        if cert.revoked_at is None:
            cert.revoked_at = now
            count += 1
    node.state = "gesperrt"
    mdb.session.commit()
    log.warning("Knoten %s gesperrt, %d Zertifikat(e) widerrufen", node.name, count)
    return count


def authenticate(cert_pem_text: str | None, ca: CertificateAuthority, path: str) -> Node:
    """The node a TLS client certificate belongs to, or a ``RegistryError`` (401/403)."""
    if not cert_pem_text:
        log.warning("Anfrage ohne Client-Zertifikat an %s abgelehnt", path)
        raise RegistryError("Client-Zertifikat erforderlich", 401)
    try:
        cert = load_cert(cert_pem_text)
    except ValueError as exc:
        log.warning("Anfrage an %s mit unlesbarem Client-Zertifikat abgelehnt", path)
        raise RegistryError("Client-Zertifikat unlesbar", 401) from exc
    serial = serial_hex(cert)
    if not ca.issued(cert):
        log.warning("Anfrage an %s mit fremdem Zertifikat %s abgelehnt (falsche CA)", path, serial)
        raise RegistryError("Zertifikat nicht von dieser CA", 403)
    row = mdb.session.scalar(select(NodeCertificate).where(NodeCertificate.serial == serial))
    if row is None or row.fingerprint != fingerprint(cert):
        log.warning("Anfrage an %s mit unbekanntem Zertifikat %s abgelehnt", path, serial)
        raise RegistryError("Zertifikat unbekannt", 403)
    node = row.node
    if row.revoked_at is not None:
        log.warning("Knoten %s: widerrufenes Zertifikat %s (seit %s) abgelehnt", node.name,
                    serial, row.revoked_at.isoformat(timespec="seconds"))
        raise RegistryError("Zertifikat widerrufen", 403)
    now = utcnow()
    if not row.not_before <= now < row.not_after:
        log.warning("Knoten %s: abgelaufenes Zertifikat %s (gültig bis %s) abgelehnt",
                    node.name, serial, row.not_after.isoformat(timespec="seconds"))
        raise RegistryError("Zertifikat abgelaufen", 403)
    if node.state != "aktiv":
        log.warning("Knoten %s ist %s; Anfrage abgelehnt", node.name, node.state_label)
        raise RegistryError("Knoten gesperrt", 403)
    return node


# -- desired configuration and numbers ---------------------------------------------------------


def set_config(node: Node, raw: object) -> None:
    """Validate and store the desired configuration; bumps the node's config version."""
    config = validate_config(raw)
    node.desired_config = config.to_dict()
    node.config_version += 1
    mdb.session.commit()
    log.info("Soll-Konfiguration von Knoten %s geändert (Version %d)", node.name,
             node.config_version)


def add_number(node: Node, number: str, label: str = "") -> RoutedNumber:
    spec = validate_number(number, label)
    existing = _routed(spec.number)
    if existing is not None:
        raise RegistryError(
            f"Rufnummer {spec.number} ist schon Knoten {existing.node.name} zugeordnet", 409
        )
    row = RoutedNumber(number=spec.number, label=spec.label, node_id=node.id)
    mdb.session.add(row)
    node.config_version += 1
    mdb.session.commit()
    log.info("Rufnummer %s an Knoten %s geleitet", spec.number, node.name)
    return row


def remove_number(number: str) -> None:
    row = _routed(number)
    if row is None:
        raise RegistryError(f"Rufnummer {number} ist keinem Knoten zugeordnet", 404)
    row.node.config_version += 1
    mdb.session.delete(row)
    mdb.session.commit()
    log.info("Rufnummer %s von Knoten %s entfernt", number, row.node.name)


def _routed(number: str) -> RoutedNumber | None:
    """The routed number ``number`` spells, however it is written (``+4930…``, ``030…`` and
    ``4930…`` are one line: routing it to two nodes would split its calls)."""
    wanted = normalize_number(number)
    return next((row for row in mdb.session.scalars(select(RoutedNumber))
                 if normalize_number(row.number) == wanted), None)


def config_answer(node: Node) -> dict:
    """The JSON a node receives: stored values as they are (the node validates them)."""
    return {
        "config_version": node.config_version,
        "config": node.desired_config or {},
        "numbers": [{"number": n.number, "label": n.label} for n in node.numbers],
    }


# -- health -------------------------------------------------------------------------------------


class ReplayError(RegistryError):
    pass


def record_health(
    node: Node, report: HealthReportData, *, replay_window_s: int, retention_days: int
) -> HealthReport:
    """Store a health push after the replay checks (strictly increasing ``seq``, fresh
    ``sent_at``)."""
    now = utcnow()
    if report.seq <= node.last_health_seq:
        log.warning(
            "Wiederholte Zustandsmeldung von Knoten %s verworfen (seq %d <= zuletzt %d)",
            node.name, report.seq, node.last_health_seq,
        )
        raise ReplayError("Wiederholte Anfrage verworfen", 409)
    skew = abs((now - report.sent_at).total_seconds())
    if skew > replay_window_s:
        log.warning(
            "Zustandsmeldung von Knoten %s verworfen: Zeitstempel %s weicht %d s ab "
            "(erlaubt %d s; Wiederholung oder falsche Uhr)",
            node.name, report.sent_at.isoformat(), skew, replay_window_s,
        )
        raise ReplayError("Zeitstempel außerhalb des erlaubten Fensters", 409)
    # Claim the sequence number atomically: of two concurrent copies only one gets through.
    claimed = mdb.session.execute(
        update(Node)
        .where(Node.id == node.id, Node.last_health_seq < report.seq)
        .values(last_health_seq=report.seq)
    ).rowcount
    if claimed != 1:
        mdb.session.rollback()
        log.warning("Wiederholte Zustandsmeldung von Knoten %s verworfen (seq %d gleichzeitig "
                    "zweimal)", node.name, report.seq)
        raise ReplayError("Wiederholte Anfrage verworfen", 409)
    gap = report.sync_gap
    row = HealthReport(
        node_id=node.id,
        received_at=now,
        sent_at=report.sent_at,
        seq=report.seq,
        version=report.version,
        uptime_s=report.uptime_s,
        calls_in_progress=report.calls_in_progress,
        error_counts=report.error_counts,
        disk_free_bytes=report.disk_free_bytes,
        disk_total_bytes=report.disk_total_bytes,
        engine_status=report.engine_status,
        applied_config_version=report.applied_config_version,
        config_error=report.config_error or "",
        gap_since=gap.since if gap else None,
        gap_until=gap.until if gap else None,
        gap_failed_attempts=gap.failed_attempts if gap else None,
    )
    mdb.session.add(row)
    node.last_seen_at = now
    node.reported_version = report.version
    node.applied_config_version = report.applied_config_version
    node.config_error = report.config_error or ""
    if gap is not None:
        log.warning(
            "Knoten %s meldet Verbindungslücke %s bis %s (%d Fehlversuche)", node.name,
            gap.since.isoformat(), gap.until.isoformat(), gap.failed_attempts,
        )
    if report.config_error:
        log.warning("Knoten %s hat Konfiguration abgelehnt: %s", node.name, report.config_error)
    mdb.session.execute(
        delete(HealthReport).where(
            HealthReport.node_id == node.id,
            HealthReport.received_at < now - dt.timedelta(days=retention_days),
        )
    )
    mdb.session.commit()
    return row


# -- operators ----------------------------------------------------------------------------------


def set_operator(username: str, password: str) -> Operator:
    if not username or len(password) < 10:
        raise RegistryError("Benutzername und ein Passwort mit mindestens 10 Zeichen erforderlich")
    row = mdb.session.scalar(select(Operator).where(Operator.username == username))
    if row is None:
        row = Operator(username=username, password_hash="")
        mdb.session.add(row)
    row.password_hash = _hasher.hash(password)
    mdb.session.commit()
    log.info("Betreiber-Zugang %s gespeichert", username)
    return row


def check_operator(username: str, password: str) -> Operator | None:
    row = mdb.session.scalar(select(Operator).where(Operator.username == username))
    if row is None:
        _hasher.hash(password)  # same cost whether or not the user exists
        return None
    try:
        _hasher.verify(row.password_hash, password)
    except VerificationError:
        log.warning("Anmeldung als %s fehlgeschlagen", username)
        return None
    return row
