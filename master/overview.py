"""Read-side views of the master's data, shared by the operator UI and the JSON API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from sync_contract.health_schema import ENGINE_STATES

from .models import HealthReport, Node, RoutedNumber, mdb, utcnow


def find_node(name: str) -> Node | None:
    return mdb.session.scalar(select(Node).where(Node.name == name))


def all_nodes() -> list[Node]:
    return list(mdb.session.scalars(select(Node).order_by(Node.name)))


def all_numbers() -> list[RoutedNumber]:
    return list(mdb.session.scalars(select(RoutedNumber).order_by(RoutedNumber.number)))


def health_history(node: Node, limit: int = 50) -> list[HealthReport]:
    return list(mdb.session.scalars(
        select(HealthReport)
        .where(HealthReport.node_id == node.id)
        .order_by(HealthReport.received_at.desc(), HealthReport.id.desc())
        .limit(limit)
    ))


def health_label(node: Node, stale_after_s: int, now: dt.datetime | None = None) -> str:
    """One German word or phrase for the node's state, as the operator sees it in the list."""
    now = now or utcnow()
    if node.state == "gesperrt":
        return "Gesperrt"
    if node.state == "wartet":
        return "Wartet auf Registrierung"
    if node.last_seen_at is None:
        return "Noch keine Meldung"
    silent = (now - node.last_seen_at).total_seconds()
    if silent > stale_after_s:
        return f"Keine Meldung seit {int(silent // 60)} min"
    if node.config_error:
        return "Konfiguration abgelehnt"
    if node.applied_config_version != node.config_version:
        return "Konfiguration wird übernommen"
    return "In Ordnung"


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds") + "Z"


def health_to_json(row: HealthReport) -> dict[str, Any]:
    return {
        "received_at": _iso(row.received_at),
        "sent_at": _iso(row.sent_at),
        "version": row.version,
        "uptime_s": row.uptime_s,
        "calls_in_progress": row.calls_in_progress,
        "error_counts": row.error_counts,
        "disk_free_bytes": row.disk_free_bytes,
        "disk_total_bytes": row.disk_total_bytes,
        "engine_status": row.engine_status,
        "applied_config_version": row.applied_config_version,
        "config_error": row.config_error or None,
        "sync_gap": None if row.gap_since is None else {
            "since": _iso(row.gap_since),
            "until": _iso(row.gap_until),
            "failed_attempts": row.gap_failed_attempts,
        },
    }


def node_to_json(node: Node, stale_after_s: int, *, detail: bool = False) -> dict[str, Any]:
    latest = health_history(node, 1)
    data: dict[str, Any] = {
        "name": node.name,
        "customer": node.customer,
        "address": node.address,
        "state": node.state,
        "health": health_label(node, stale_after_s),
        "reported_version": node.reported_version or None,
        "last_seen_at": _iso(node.last_seen_at),
        "config_version": node.config_version,
        "applied_config_version": node.applied_config_version,
        "config_error": node.config_error or None,
        "calls_in_progress": latest[0].calls_in_progress if latest else None,
        "numbers": [n.number for n in node.numbers],
    }
    if detail:
        data["desired_config"] = node.desired_config or {}
        data["certificates"] = [
            {
                "serial": c.serial,
                "not_after": _iso(c.not_after),
                "revoked_at": _iso(c.revoked_at),
            }
            for c in node.certificates
        ]
        data["latest_health"] = health_to_json(latest[0]) if latest else None
    return data


def engine_state_label(value: str) -> str:
    return ENGINE_STATES.get(value, value)
