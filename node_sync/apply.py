"""Apply a validated desired configuration on the node.

New phone numbers are inserted into the node's database in one short transaction; calls in
progress already resolved their number and agent and are not touched. Engine choice, feature
flags and limits go to ``managed.json``; the node runner reads them with ``load_managed_config``
(and may reload engines between calls from the ``on_config_applied`` hook).

Numbers the master no longer routes stay on the node: removing them would delete the customer's
time windows, and the carrier's routing decides where calls go anyway. They are logged.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from master.config_schema import ConfigError, DesiredConfig, NodeConfigPayload, validate_config
from models import PhoneNumber, db

from .state import NodePaths, read_json, utc_iso, write_json

log = logging.getLogger(__name__)


def apply_payload(payload: NodeConfigPayload, paths: NodePaths, db_app: Flask) -> list[str]:
    """Apply ``payload``; returns the numbers that were newly created."""
    created: list[str] = []
    with db_app.app_context():
        existing = set(db.session.scalars(select(PhoneNumber.number)))
        for spec in payload.numbers:
            if spec.number not in existing:
                db.session.add(PhoneNumber(number=spec.number, label=spec.label))
                created.append(spec.number)
        db.session.commit()
        unrouted = sorted(existing - {n.number for n in payload.numbers})
    for number in created:
        log.info("Neue Rufnummer %s vom Master übernommen", number)
    if unrouted:
        log.warning(
            "Rufnummer(n) %s werden vom Master nicht mehr diesem Knoten zugeordnet; sie bleiben "
            "samt Zeitfenstern bestehen, bis der Kunde sie entfernt", ", ".join(unrouted),
        )
    write_json(paths.managed, {
        "config_version": payload.config_version,
        "applied_at": utc_iso(dt.datetime.now(dt.UTC)),
        "config": payload.config.to_dict(),
        "numbers": [n.number for n in payload.numbers],
    })
    return created


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
