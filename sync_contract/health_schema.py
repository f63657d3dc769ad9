"""The health report a node pushes: an explicit allow-list of fields and value shapes.

Nothing outside this list can travel to the master. Free text is limited to version strings,
timestamps and our own config error messages; engine status values come from a fixed set, so a
transcript or phone number cannot be smuggled in through them. The node validates before sending
(fail closed), the master validates before storing.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from typing import Any

ENGINE_KEYS = ("stt", "llm", "tts", "gesamt")  # gesamt: all engines together
ENGINE_STATES = {
    "ok": "Bereit",
    "laedt": "Lädt",
    "fehler": "Fehler",
    "aus": "Aus",
    "unbekannt": "Unbekannt",
}
COUNTER_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
VERSION_RE = re.compile(r"^[0-9A-Za-z.+-]{1,40}$")
MAX_COUNTERS = 20
MAX_ERROR_TEXT = 300
MAX_INT = 2**62

HEALTH_FIELDS = (
    "seq", "sent_at", "version", "uptime_s", "calls_in_progress", "error_counts",
    "disk_free_bytes", "disk_total_bytes", "engine_status", "applied_config_version",
    "config_error", "sync_gap",
)
GAP_FIELDS = ("since", "until", "failed_attempts")


class HealthError(ValueError):
    """A health report outside the allow-list."""


@dataclass(frozen=True)
class SyncGap:
    since: dt.datetime
    until: dt.datetime
    failed_attempts: int


@dataclass(frozen=True)
class HealthReportData:
    seq: int
    sent_at: dt.datetime  # UTC, naive
    version: str
    uptime_s: int
    calls_in_progress: int
    error_counts: dict[str, int]
    disk_free_bytes: int
    disk_total_bytes: int
    engine_status: dict[str, str]
    applied_config_version: int | None
    config_error: str | None
    sync_gap: SyncGap | None

    def to_wire(self) -> dict[str, Any]:
        data = asdict(self)
        data["sent_at"] = iso(self.sent_at)
        if self.sync_gap is not None:
            data["sync_gap"] = {
                "since": iso(self.sync_gap.since),
                "until": iso(self.sync_gap.until),
                "failed_attempts": self.sync_gap.failed_attempts,
            }
        return data


def iso(value: dt.datetime) -> str:
    return value.replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def parse_iso(value: Any, where: str) -> dt.datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise HealthError(f"{where}: Zeitstempel erwartet")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise HealthError(f"{where}: Zeitstempel erwartet") from exc
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def _int(value: Any, where: str, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
        raise HealthError(f"{where}: nicht-negative ganze Zahl erwartet")
    return value


def _dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise HealthError(f"{where}: Objekt erwartet")
    return value


def validate_health(raw: Any) -> HealthReportData:
    data = _dict(raw, "Zustandsmeldung")
    unknown = sorted(set(data) - set(HEALTH_FIELDS))
    if unknown:
        raise HealthError(f"unbekannte Felder: {', '.join(unknown)[:120]}")
    missing = sorted(set(HEALTH_FIELDS) - set(data))
    if missing:
        raise HealthError(f"fehlende Felder: {', '.join(missing)}")

    version = data["version"]
    if not isinstance(version, str) or not VERSION_RE.match(version):
        raise HealthError("version: Versionsnummer erwartet")

    counts = _dict(data["error_counts"], "error_counts")
    if len(counts) > MAX_COUNTERS:
        raise HealthError(f"error_counts: höchstens {MAX_COUNTERS} Zähler")
    for key, value in counts.items():
        if not COUNTER_RE.match(key):
            raise HealthError("error_counts: ungültiger Zählername")
        _int(value, f"error_counts.{key}")

    engines = _dict(data["engine_status"], "engine_status")
    for key, value in engines.items():
        if key not in ENGINE_KEYS or value not in ENGINE_STATES:
            raise HealthError(
                f"engine_status: erlaubt sind {', '.join(ENGINE_KEYS)} mit "
                f"{', '.join(ENGINE_STATES)}"
            )

    error = data["config_error"]
    if error is not None and (not isinstance(error, str) or len(error) > MAX_ERROR_TEXT):
        raise HealthError(f"config_error: Text bis {MAX_ERROR_TEXT} Zeichen erwartet")

    gap: SyncGap | None = None
    if data["sync_gap"] is not None:
        gap_raw = _dict(data["sync_gap"], "sync_gap")
        if set(gap_raw) != set(GAP_FIELDS):
            raise HealthError(f"sync_gap: genau {', '.join(GAP_FIELDS)} erwartet")
        gap = SyncGap(
            since=parse_iso(gap_raw["since"], "sync_gap.since"),
            until=parse_iso(gap_raw["until"], "sync_gap.until"),
            failed_attempts=_int(gap_raw["failed_attempts"], "sync_gap.failed_attempts") or 0,
        )

    return HealthReportData(
        seq=_int(data["seq"], "seq") or 0,
        sent_at=parse_iso(data["sent_at"], "sent_at"),
        version=version,
        uptime_s=_int(data["uptime_s"], "uptime_s") or 0,
        calls_in_progress=_int(data["calls_in_progress"], "calls_in_progress") or 0,
        error_counts={k: int(v) for k, v in counts.items()},
        disk_free_bytes=_int(data["disk_free_bytes"], "disk_free_bytes") or 0,
        disk_total_bytes=_int(data["disk_total_bytes"], "disk_total_bytes") or 0,
        engine_status={k: str(v) for k, v in engines.items()},
        applied_config_version=_int(
            data["applied_config_version"], "applied_config_version", optional=True
        ),
        config_error=error,
        sync_gap=gap,
    )
