"""The retention job on the node's scheduler: once at start, then hourly."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from flask import Flask

from privacy.deletion import purge_expired

log = logging.getLogger(__name__)

JOB_ID = "voicegate-retention"
INTERVAL = dt.timedelta(hours=1)


def run_retention(db_app: Flask, recordings_dir: Path) -> None:
    """One purge; logs counts only, never content. A failure waits for the next hour."""
    try:
        report = purge_expired(db_app, recordings_dir)
    except Exception:
        log.exception("retention purge failed; next try in %s", INTERVAL)
        return
    counts = report.counts
    if counts.any():
        log.info("retention purge: %s", ", ".join(f"{k}={v}" for k, v in
                                                  counts.as_dict().items() if v))
    else:
        log.debug("retention purge: nothing past its time")


def schedule_retention(scheduler, db_app: Flask, recordings_dir: Path) -> None:  # noqa: ANN001
    """Register the job: first run right away (node start), then every hour."""
    scheduler.add_job(run_retention, "interval", seconds=INTERVAL.total_seconds(),
                      args=(db_app, recordings_dir), id=JOB_ID, replace_existing=True,
                      next_run_time=dt.datetime.now(dt.UTC), coalesce=True, max_instances=1)
