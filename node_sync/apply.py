"""Apply a validated desired configuration on the node.

New phone numbers are inserted into the node's database in one short transaction; calls in
progress already resolved their number and agent and are not touched. Engine choice, feature
flags and limits go to ``managed.json``; they take effect when the node starts
(``managed_settings``, called by the node's composition root on the loaded settings): engines
are built once per process, so a change waits for the next ``voicegate run``.

Numbers the master no longer routes stay on the node: removing them would delete the customer's
time windows, and the carrier's routing decides where calls go anyway. They are logged.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from config import Settings
from models import PhoneNumber, db
from models.phone import normalize_number
from sync_contract.config_schema import (
    ConfigError,
    DesiredConfig,
    NodeConfigPayload,
    validate_config,
)

from .health import node_version
from .state import NodePaths, read_json, utc_iso, write_json

log = logging.getLogger(__name__)


def apply_payload(payload: NodeConfigPayload, paths: NodePaths, db_app: Flask) -> list[str]:
    """Apply ``payload``; returns the numbers that were newly created."""
    created: list[str] = []
    with db_app.app_context():
        # compared normalised: the master's "+4930…" is the node's "030…" or "4930…"
        stored = list(db.session.scalars(select(PhoneNumber.number)))
        known = {_key(n) for n in stored}
        for spec in payload.numbers:
            if _key(spec.number) not in known:
                db.session.add(PhoneNumber(number=spec.number, label=spec.label))
                known.add(_key(spec.number))
                created.append(spec.number)
        db.session.commit()
        routed = {_key(n.number) for n in payload.numbers}
        unrouted = sorted(n for n in stored if _key(n) not in routed)
    for number in created:
        log.info("Neue Rufnummer %s vom Master übernommen", number)
    if unrouted:
        log.warning(
            "Rufnummer(n) %s werden vom Master nicht mehr diesem Knoten zugeordnet; sie bleiben "
            "samt Zeitfenstern bestehen, bis der Kunde sie entfernt", ", ".join(unrouted),
        )
    if load_managed_config(paths.data_dir) != payload.config:
        log.info("Engine-Wahl und Grenzen vom Master gelten ab dem nächsten Start des Knotens")
    write_json(paths.managed, {
        "config_version": payload.config_version,
        "applied_at": utc_iso(dt.datetime.now(dt.UTC)),
        "config": payload.config.to_dict(),
        "numbers": [n.number for n in payload.numbers],
    })
    return created


def _key(number: str) -> str:
    """What two spellings of one number share; a stored non-number compares as written."""
    return normalize_number(number) or number


def load_managed_config(data_dir: Path) -> DesiredConfig | None:
    """The configuration the master manages for this node, as last applied (None: never)."""
    data = read_json(NodePaths(Path(data_dir)).managed)
    if data is None:
        return None
    try:
        return validate_config(data.get("config", {}))
    except ConfigError as exc:
        log.error("managed.json ist ungültig und wird ignoriert: %s", exc)
        return None


def managed_settings(settings: Settings) -> Settings:
    """``settings`` with what the master manages for this node laid over them, for the node's
    start: engine backends and model names, and the longest call (``max_call_seconds``). They
    win over ``voicegate.toml`` and the environment: the operator set them for this node. An
    empty model name keeps the node's own. What the node has no setting for (feature flags,
    other limits, the wanted software version) is named in the log, never silently dropped."""
    managed = load_managed_config(settings.data_dir)
    if managed is None:
        return settings
    engines = {key: value for key, value in managed.engines.items() if value}
    changes: dict[str, object] = {}
    if engines:
        changes["engines"] = dataclasses.replace(settings.engines, **engines)
    if "max_call_seconds" in managed.limits:
        changes["max_call_seconds"] = managed.limits["max_call_seconds"]
    applied = [f"engines.{k}={v}" for k, v in sorted(engines.items())]
    if "max_call_seconds" in changes:
        applied.append(f"limits.max_call_seconds={changes['max_call_seconds']}")
    if applied:
        log.info("Vom Master verwaltet: %s", ", ".join(applied))
    unused = [f"features.{name}" for name in sorted(managed.features)]
    unused += [f"limits.{name}" for name in sorted(managed.limits) if name != "max_call_seconds"]
    if managed.software_version and managed.software_version != node_version():
        unused.append(f"software_version={managed.software_version} (läuft: {node_version()})")
    if unused:
        log.warning("Vom Master gesetzt, auf diesem Knoten ohne Wirkung: %s", ", ".join(unused))
    return dataclasses.replace(settings, **changes)
