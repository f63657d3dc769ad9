"""System: is the node healthy? Controller, live calls, engines, disk, master sync.

The admin asks the node, never imports it: the controller answers over its local status
endpoint (``controller_status``), the master link through the ``NODE_SYNC_STATUS`` callable the
node's composition root hands ``create_app`` (``sync_status=``)."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, render_template
from sqlalchemy import func, select

from models import Chat, ChatStatus, CustomerSettings, Recording, db

from .auth import login_required
from .controller_status import fetch_status

log = logging.getLogger(__name__)

bp = Blueprint("system", __name__, url_prefix="/system")

SyncStatus = Callable[[], Mapping[str, Any]]
"""The master link as ``system/_sync.html`` shows it: ``status`` (ok | wartet | gestoert |
nicht_registriert), ``status_text``, ``master_url``, ``last_success_at``, ``gap_text``,
``last_error``, ``last_error_at``, ``next_attempt_text``, ``applied_config_version``,
``config_error`` (the node gives ``node_sync.client.last_sync_status`` for its data folder)."""

LOW_DISK_FRACTION = 0.10
LOW_DISK_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class DiskUsage:
    total: int
    free: int

    @property
    def low(self) -> bool:
        return self.free < LOW_DISK_BYTES or self.free < self.total * LOW_DISK_FRACTION


def format_bytes(size: float) -> str:
    for unit in ("Byte", "KB", "MB", "GB"):
        if size < 1024:
            text = f"{size:.0f} {unit}" if unit == "Byte" else f"{size:.1f} {unit}"
            return text.replace(".", ",")
        size /= 1024
    return f"{size:.1f} TB".replace(".", ",")


def _parse_instant(value: Any) -> dt.datetime | None:
    """An ISO timestamp as naive UTC (what the templates' filters expect)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def _last_sync(source: SyncStatus | None) -> dict[str, Any]:
    if source is None:  # an admin app without its node (a bench, a standalone admin)
        return {"error": "no sync status source given to create_app"}
    try:
        return dict(source())
    except Exception as exc:  # a broken state file must not take the system page down
        log.warning("could not read the master sync state: %s", exc)
        return {"error": str(exc)}


@bp.get("/")
@login_required
def index() -> str:
    config = current_app.config
    status = fetch_status(config["CONTROLLER_STATUS_URL"], config["CONTROLLER_STATUS_TIMEOUT_S"])
    data_dir = Path(config["DATA_DIR"])
    try:
        usage = shutil.disk_usage(data_dir if data_dir.exists() else data_dir.parent)
        disk: DiskUsage | None = DiskUsage(total=usage.total, free=usage.free)
    except OSError:
        disk = None
    recordings = db.session.execute(
        select(func.count(Recording.id), func.coalesce(func.sum(Recording.duration_s), 0))).one()
    running = db.session.scalar(select(func.count()).where(Chat.status == ChatStatus.IN_ARBEIT))
    calls = [{**call, "since_utc": _parse_instant(call.get("since"))} for call in status.live_calls]
    sync = _last_sync(config["NODE_SYNC_STATUS"])
    customer = db.session.get(CustomerSettings, 1)
    return render_template(
        "system/index.html", status=status, calls=calls, disk=disk,
        recordings_count=recordings[0], recordings_hours=float(recordings[1]) / 3600,
        running_in_db=running, sync=sync, parse_instant=_parse_instant,
        format_bytes=format_bytes, fallback_number=customer.fallback_number if customer else "",
    )
