"""The node-side sync client: enrol once, then on an interval pull the desired configuration and
push health, over HTTPS verified against the master's CA with the node's client certificate.

A node keeps working without its master: every failure leaves the last applied configuration in
place, the next attempt backs off exponentially, and when the master is back the outage (the
"gap") is reported with the next health push.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests
from flask import Flask

from models import german
from sync_contract.config_schema import ConfigError, DesiredConfig, validate_payload
from sync_contract.health_schema import SyncGap
from sync_contract.pki import csr_pem, key_pem, load_cert, make_csr, new_key

from .apply import apply_payload
from .health import CallsInProgress, EngineStatus, ErrorCounts, build_health
from .state import (
    Enrollment,
    NodePaths,
    SyncState,
    load_enrollment,
    load_node_cert,
    load_state,
    parse_utc,
    save_credentials,
    save_enrollment,
    save_state,
    utc_iso,
)

log = logging.getLogger(__name__)

JOB_ID = "voicegate-master-sync"
DEFAULT_INTERVAL_S = 60.0
MAX_BACKOFF_S = 1800.0
RENEW_BEFORE = dt.timedelta(days=30)
DISPLAY_TZ = ZoneInfo("Europe/Berlin")


class SyncError(Exception):
    """A sync round failed (master unreachable, refused us, or answered nonsense); German text."""


class EnrollmentError(Exception):
    pass


@dataclass(frozen=True)
class SyncResult:
    ok: bool
    attempted: bool
    error: str | None = None
    new_numbers: tuple[str, ...] = ()


_CAUSE_RE = re.compile(r"\[(?:Errno \d+|SSL: [A-Z0-9_]+)\][^'\"()]*")


def _cause(exc: BaseException) -> str:
    """The useful end of a requests/urllib3 error chain, e.g. ``[Errno 111] Connection
    refused`` instead of three nested reprs."""
    found = _CAUSE_RE.findall(str(exc))
    return found[-1].strip() if found else str(exc)[:200]


def _describe_http_error(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.exceptions.SSLError):
        return (
            "TLS-Fehler: Zertifikat des Masters nicht von der erwarteten CA, oder der Master "
            f"lehnt das Knotenzertifikat ab ({_cause(exc)})"
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return "Master nicht erreichbar (Zeitüberschreitung)"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"Master nicht erreichbar ({_cause(exc)})"
    return f"HTTP-Fehler ({_cause(exc)})"


def _answer_json(response: requests.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        try:
            detail = response.json().get("error", "")
        except ValueError:
            detail = ""
        raise SyncError(
            f"Master antwortet mit HTTP {response.status_code}"
            + (f": {str(detail)[:200]}" if detail else "")
        )
    try:
        data = response.json()
    except ValueError as exc:
        raise SyncError("Master antwortet mit ungültigem JSON") from exc
    if not isinstance(data, dict):
        raise SyncError("Master antwortet mit ungültigem JSON (kein Objekt)")
    return data


# -- enrolment ---------------------------------------------------------------------------------


def enroll(master_url: str, token: str, ca_file: Path, data_dir: Path,
           *, timeout_s: float = 15.0) -> Enrollment:
    """Register this node at the master with a one-time token; writes ``<data>/master/``."""
    paths = NodePaths(Path(data_dir))
    ca_bytes = Path(ca_file).read_bytes()
    load_cert(ca_bytes)  # fails early on a file that is not a certificate
    paths.directory.mkdir(parents=True, exist_ok=True)
    paths.ca.write_bytes(ca_bytes)
    key = new_key()
    url = master_url.rstrip("/")
    try:
        response = requests.post(
            f"{url}/api/node/v1/enroll",
            json={"token": token, "csr": csr_pem(make_csr(key))},
            verify=str(paths.ca),
            timeout=timeout_s,
        )
        data = _answer_json(response)
    except requests.RequestException as exc:
        log.error("Registrierung beim Master %s fehlgeschlagen: %s", url,
                  _describe_http_error(exc))
        raise EnrollmentError(_describe_http_error(exc)) from exc
    except SyncError as exc:
        log.error("Registrierung beim Master %s fehlgeschlagen: %s", url, exc)
        raise EnrollmentError(str(exc)) from exc
    cert = str(data.get("certificate", ""))
    load_cert(cert)
    save_credentials(paths, key_pem(key), cert.encode())
    enrollment = Enrollment(
        master_url=url,
        node_id=int(data["node_id"]),
        node_name=str(data["node_name"]),
        enrolled_at=utc_iso(dt.datetime.now(dt.UTC)),
    )
    save_enrollment(paths, enrollment)
    save_state(paths, SyncState())
    log.info("Beim Master %s als Knoten %s registriert", url, enrollment.node_name)
    return enrollment


def is_enrolled(data_dir: Path) -> bool:
    return load_enrollment(NodePaths(Path(data_dir))) is not None


# -- sync --------------------------------------------------------------------------------------


class NodeSync:
    """One node's sync with its master. ``run_scheduled`` is the interval job."""

    def __init__(
        self,
        data_dir: Path,
        db_app: Flask,
        *,
        calls_in_progress: CallsInProgress | None = None,
        engine_status: EngineStatus | None = None,
        error_counts: ErrorCounts | None = None,
        on_config_applied: Callable[[DesiredConfig], None] | None = None,
        interval_s: float = DEFAULT_INTERVAL_S,
        max_backoff_s: float = MAX_BACKOFF_S,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.paths = NodePaths(Path(data_dir))
        self.db_app = db_app
        self.calls_in_progress = calls_in_progress
        self.engine_status = engine_status
        self.error_counts = error_counts
        self.on_config_applied = on_config_applied
        self.interval_s = interval_s
        self.max_backoff_s = max_backoff_s
        self.timeout_s = timeout_s
        self.clock = clock
        self.rng = rng or random.Random()
        self._started = time.monotonic()

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    def run_scheduled(self) -> SyncResult:
        """Sync unless a backoff after earlier failures says to wait."""
        state = load_state(self.paths)
        if self.clock() < state.next_attempt_at:
            return SyncResult(ok=False, attempted=False, error=state.last_error)
        return self.sync_once()

    def sync_once(self) -> SyncResult:
        enrollment = load_enrollment(self.paths)
        if enrollment is None:
            log.warning("Kein Master-Abgleich: Knoten ist nicht registriert "
                        "(voicegate master enroll)")
            return SyncResult(ok=False, attempted=False, error="nicht registriert")
        state = load_state(self.paths)
        state.last_attempt_at = utc_iso(self._now())
        try:
            self._check_own_certificate()
            with self._session() as session:
                new_numbers = self._pull_config(session, enrollment, state)
                self._push_health(session, enrollment, state)
                self._renew_if_due(session, enrollment)
        except SyncError as exc:
            self._failed(state, str(exc))
            return SyncResult(ok=False, attempted=True, error=str(exc))
        except requests.RequestException as exc:
            message = _describe_http_error(exc)
            self._failed(state, message)
            return SyncResult(ok=False, attempted=True, error=message)
        self._succeeded(state)
        return SyncResult(ok=True, attempted=True, new_numbers=tuple(new_numbers))

    # -- steps ---------------------------------------------------------------------------------

    def _session(self) -> requests.Session:
        return requests.Session()

    def _request(self, session: requests.Session, method: str, url: str,
                 **kwargs: Any) -> requests.Response:
        # verify/cert per request: a session-level verify loses against REQUESTS_CA_BUNDLE
        # from the environment, and the master's CA must be the only trust anchor.
        return session.request(method, url, verify=str(self.paths.ca),
                               cert=str(self.paths.credentials), timeout=self.timeout_s, **kwargs)

    def _check_own_certificate(self) -> None:
        not_after = load_node_cert(self.paths).not_valid_after_utc
        if self._now() >= not_after:
            raise SyncError(
                f"Knotenzertifikat ist am {german.date(not_after)} abgelaufen; Knoten mit einem "
                "neuen Token neu registrieren (voicegate master enroll)"
            )

    def _pull_config(self, session: requests.Session, enrollment: Enrollment,
                     state: SyncState) -> list[str]:
        response = self._request(session, "GET", f"{enrollment.master_url}/api/node/v1/config")
        raw = _answer_json(response)
        try:
            payload = validate_payload(raw)
        except ConfigError as exc:
            version = raw.get("config_version")
            message = f"Konfiguration Version {version} ungültig: {exc}"[:300]
            if state.config_error != message:
                log.error("%s; die bisherige Konfiguration (Version %s) bleibt aktiv", message,
                          state.applied_config_version)
            state.config_error = message
            return []
        digest = payload.digest()
        if digest == state.applied_digest:
            state.config_error = None
            return []
        try:
            created = apply_payload(payload, self.paths, self.db_app)
        except Exception as exc:
            message = f"Interner Fehler beim Anwenden der Konfiguration ({type(exc).__name__})"
            log.exception("Konfiguration Version %d nicht angewendet; die bisherige bleibt aktiv",
                          payload.config_version)
            state.config_error = message
            return []
        state.applied_config_version = payload.config_version
        state.applied_digest = digest
        state.config_error = None
        log.info("Konfiguration Version %d vom Master übernommen", payload.config_version)
        if self.on_config_applied is not None:
            try:
                self.on_config_applied(payload.config)
            except Exception:
                log.exception("Nachbearbeitung der neuen Konfiguration fehlgeschlagen")
        return created

    def _push_health(self, session: requests.Session, enrollment: Enrollment,
                     state: SyncState) -> None:
        state.seq = max(state.seq + 1, int(self.clock() * 1000))
        gap = None
        if state.gap_since is not None:  # this round ends an outage: report it
            gap = SyncGap(
                since=dt.datetime.fromisoformat(state.gap_since),
                until=self._now(),
                failed_attempts=state.consecutive_failures,
            )
        report = build_health(
            seq=state.seq,
            data_dir=self.paths.data_dir,
            db_app=self.db_app,
            uptime_s=time.monotonic() - self._started,
            calls_in_progress=self.calls_in_progress,
            engine_status=self.engine_status,
            error_counts=self.error_counts,
            sync_failures=state.consecutive_failures,
            applied_config_version=state.applied_config_version,
            config_error=state.config_error,
            gap=gap,
        )
        save_state(self.paths, state)  # the seq is spent even if the push fails
        response = self._request(session, "POST", f"{enrollment.master_url}/api/node/v1/health",
                                 json=report.to_wire())
        _answer_json(response)

    def _renew_if_due(self, session: requests.Session, enrollment: Enrollment) -> None:
        """Renew the client certificate in its last 30 days (a failure only waits for the next
        round: the current certificate still works)."""
        not_after = load_node_cert(self.paths).not_valid_after_utc
        if not_after - self._now() > RENEW_BEFORE:
            return
        key = new_key()
        try:
            response = self._request(session, "POST",
                                     f"{enrollment.master_url}/api/node/v1/renew",
                                     json={"csr": csr_pem(make_csr(key))})
            cert = str(_answer_json(response).get("certificate", ""))
            new_not_after = load_cert(cert).not_valid_after_utc
        except (SyncError, requests.RequestException, ValueError) as exc:
            log.warning("Knotenzertifikat (gültig bis %s) nicht erneuert: %s",
                        not_after.date().isoformat(), exc)
            return
        save_credentials(self.paths, key_pem(key), cert.encode())
        log.info("Knotenzertifikat erneuert, gültig bis %s", new_not_after.date().isoformat())

    # -- bookkeeping ---------------------------------------------------------------------------

    def _failed(self, state: SyncState, message: str) -> None:
        now = self._now()
        state.consecutive_failures += 1
        state.last_error = message[:500]
        state.last_error_at = utc_iso(now)
        if state.gap_since is None:
            state.gap_since = utc_iso(now)
        delay = min(self.interval_s * 2 ** (state.consecutive_failures - 1), self.max_backoff_s)
        delay *= self.rng.uniform(0.9, 1.1)  # nodes of one master do not return in lockstep
        state.next_attempt_at = self.clock() + delay
        save_state(self.paths, state)
        log.warning("Master-Abgleich fehlgeschlagen (Versuch %d), nächster Versuch in %.0f s: %s",
                    state.consecutive_failures, delay, message)

    def _succeeded(self, state: SyncState) -> None:
        now = self._now()
        if state.gap_since is not None:
            since = dt.datetime.fromisoformat(state.gap_since)
            log.warning("Master wieder erreichbar nach einer Lücke von %s (%d Fehlversuche); "
                        "Lücke gemeldet", german.duration((now - since).total_seconds()),
                        state.consecutive_failures)
        state.last_success_at = utc_iso(now)
        state.consecutive_failures = 0
        state.gap_since = None
        state.next_attempt_at = 0.0
        save_state(self.paths, state)


def schedule_sync(
    scheduler: Any,
    settings_data_dir: Path,
    db_app: Flask,
    *,
    calls_in_progress: CallsInProgress | None = None,
    engine_status: EngineStatus | None = None,
    error_counts: ErrorCounts | None = None,
    on_config_applied: Callable[[DesiredConfig], None] | None = None,
    interval_s: float = DEFAULT_INTERVAL_S,
) -> NodeSync:
    """Add the sync job to an APScheduler (Background- or GeventScheduler); first run now."""
    sync = NodeSync(
        settings_data_dir, db_app,
        calls_in_progress=calls_in_progress, engine_status=engine_status,
        error_counts=error_counts, on_config_applied=on_config_applied, interval_s=interval_s,
    )
    scheduler.add_job(
        sync.run_scheduled, "interval", seconds=interval_s, id=JOB_ID, replace_existing=True,
        max_instances=1, coalesce=True, next_run_time=dt.datetime.now(dt.UTC),
    )
    log.info("Master-Abgleich alle %.0f s eingeplant", interval_s)
    return sync


# -- status for the admin's system page --------------------------------------------------------


def _local_text(moment: dt.datetime | None) -> str:
    if moment is None:
        return "noch nie"
    return german.date_time(german.local(moment, DISPLAY_TZ), seconds=True)


def last_sync_status(data_dir: Path, now: dt.datetime | None = None) -> dict[str, Any]:
    """The state of the master link, for the admin's system page (German texts, Berlin time)."""
    paths = NodePaths(Path(data_dir))
    now = now or dt.datetime.now(dt.UTC)
    enrollment = load_enrollment(paths)
    state = load_state(paths)
    last_success = parse_utc(state.last_success_at)
    gap_since = parse_utc(state.gap_since)
    if enrollment is None:
        status, status_text = "nicht_registriert", "Nicht beim Master registriert"
    elif gap_since is not None:
        status, status_text = "gestoert", "Master nicht erreichbar"
    elif last_success is None:
        status, status_text = "wartet", "Noch kein Abgleich"
    else:
        status, status_text = "ok", "Verbunden"
    next_attempt = (dt.datetime.fromtimestamp(state.next_attempt_at, dt.UTC)
                    if state.next_attempt_at else None)
    disk = shutil.disk_usage(paths.data_dir) if paths.data_dir.exists() else None
    return {
        "status": status,
        "status_text": status_text,
        "master_url": enrollment.master_url if enrollment else None,
        "node_name": enrollment.node_name if enrollment else None,
        "last_success_at": last_success,
        "last_success_text": _local_text(last_success),
        "last_error": state.last_error,
        "last_error_at": parse_utc(state.last_error_at),
        "last_error_text": _local_text(parse_utc(state.last_error_at))
        if state.last_error_at else "",
        "consecutive_failures": state.consecutive_failures,
        "gap_since": gap_since,
        "gap_text": f"Seit {german.duration((now - gap_since).total_seconds())} keine Verbindung "
                    f"({state.consecutive_failures} Fehlversuche)" if gap_since else "",
        "next_attempt_text": _local_text(next_attempt) if next_attempt else "",
        "applied_config_version": state.applied_config_version,
        "config_error": state.config_error,
        "disk_free_bytes": disk.free if disk else None,
    }
