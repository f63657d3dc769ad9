"""Build the node's health report from the allow-list in ``sync_contract.health_schema``.

Every value is produced here from a number, a fixed set or our own text; the result is validated
before it leaves the node, so anything outside the allow-list fails closed.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import logging
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from flask import Flask
from sqlalchemy import func, select

from models import Chat, db
from sync_contract.health_schema import (
    COUNTER_RE,
    ENGINE_KEYS,
    ENGINE_STATES,
    HealthReportData,
    SyncGap,
    validate_health,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
CallsInProgress = Callable[[], int]
EngineStatus = Callable[[], Mapping[str, object]]
ErrorCounts = Callable[[], Mapping[str, int]]


def node_version() -> str:
    try:
        return importlib.metadata.version("ki-voicegate")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"


def failed_calls_24h(db_app: Flask) -> int:
    """How many calls ended with an error in the last 24 hours (a count, nothing else)."""
    since = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=24)
    with db_app.app_context():
        return int(db.session.scalar(
            select(func.count(Chat.id)).where(Chat.end_reason == "error", Chat.started_at >= since)
        ) or 0)


def _safe_call(fn: Callable[[], T] | None, default: T, what: str) -> T:
    if fn is None:
        return default
    try:
        return fn()
    except Exception:
        log.exception("%s für die Zustandsmeldung nicht ermittelbar", what)
        return default


def _engine_status(raw: Mapping[str, object]) -> dict[str, str]:
    """Map what the runner reports onto the allow-list: per engine (``stt``/``llm``/``tts``) a
    state from ``ENGINE_STATES`` or a bool; ``ready: bool`` becomes ``gesamt``. Anything else
    (free-text problem descriptions, say) is dropped, never sent."""
    raw = dict(raw)
    if "ready" in raw and "gesamt" not in raw:
        raw["gesamt"] = raw["ready"]
    status = {}
    for key in ENGINE_KEYS:
        value = raw.get(key)
        if isinstance(value, bool):
            status[key] = "ok" if value else "fehler"
        elif value is not None:
            status[key] = value if value in ENGINE_STATES else "unbekannt"
    return status


def _error_counts(raw: Mapping[str, int]) -> dict[str, int]:
    return {
        k: int(v) for k, v in raw.items()
        if isinstance(k, str) and COUNTER_RE.match(k) and isinstance(v, int) and v >= 0
    }


def build_health(
    *,
    seq: int,
    data_dir: Path,
    db_app: Flask,
    uptime_s: float,
    calls_in_progress: CallsInProgress | None,
    engine_status: EngineStatus | None,
    error_counts: ErrorCounts | None,
    sync_failures: int,
    applied_config_version: int | None,
    config_error: str | None,
    gap: SyncGap | None,
) -> HealthReportData:
    counts = {
        "calls_failed_24h": _safe_call(lambda: failed_calls_24h(db_app), 0, "Fehlerzahl"),
        "sync_failures": sync_failures,
    }
    counts.update(_error_counts(_safe_call(error_counts, {}, "Fehlerzähler")))
    engines_raw = _safe_call(engine_status, {}, "Engine-Status")
    problems = engines_raw.get("problems")
    if isinstance(problems, list | tuple):  # how many, never their text
        counts["engine_problems"] = len(problems)
    disk = shutil.disk_usage(data_dir)
    wire = {
        "seq": seq,
        "sent_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "version": node_version(),
        "uptime_s": max(int(uptime_s), 0),
        "calls_in_progress": max(int(_safe_call(calls_in_progress, 0, "Laufende Anrufe")), 0),
        "error_counts": counts,
        "disk_free_bytes": disk.free,
        "disk_total_bytes": disk.total,
        "engine_status": _engine_status(engines_raw),
        "applied_config_version": applied_config_version,
        "config_error": config_error,
        "sync_gap": None if gap is None else {
            "since": gap.since.isoformat(),
            "until": gap.until.isoformat(),
            "failed_attempts": gap.failed_attempts,
        },
    }
    return validate_health(wire)
