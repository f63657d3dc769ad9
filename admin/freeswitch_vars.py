"""Keeps FreeSWITCH's ``vars.xml`` in step with the customer's settings.

FreeSWITCH routes a call the AI cannot take to ``voicegate_fallback_number`` (and then the
voicemail box) from this file, so it must follow the "Einstellungen" page. It is only written
when ``Settings.freeswitch_vars_path`` is set; FreeSWITCH reads it again on ``reloadxml``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from config import Settings
from freeswitch_conf.render import render_vars, write_vars

log = logging.getLogger(__name__)

NOT_UPDATED = "Die Rückfallnummer für FreeSWITCH konnte nicht aktualisiert werden"
# A controller listening on every interface is reached by the local FreeSWITCH on loopback.
_WILDCARD_HOSTS = {"", "0.0.0.0", "::", "*"}


class CustomerValues(Protocol):
    """What is read of ``models.CustomerSettings``."""

    fallback_number: str
    voicemail_box: str


@dataclass(frozen=True)
class VarsUpdate:
    """The outcome of one write: ``changed`` means FreeSWITCH needs a ``reloadxml``."""

    path: Path
    changed: bool = False
    error: str | None = None


def esl_hosts(settings: Settings) -> list[str]:
    """Where FreeSWITCH's ``socket`` app finds the controller (``host:port``)."""
    host = settings.esl_host.strip()
    if host in _WILDCARD_HOSTS:
        host = "127.0.0.1"
    return [f"{host}:{settings.esl_port}"]


def vars_path(settings: Settings) -> Path | None:
    raw = settings.freeswitch_vars_path.strip()
    return Path(raw) if raw else None


def render_for(settings: Settings, customer: CustomerValues) -> str:
    """The file's text for these settings; ``ValueError`` (German) for values it must not hold."""
    return render_vars(customer.fallback_number or "", customer.voicemail_box or "",
                       esl_hosts(settings))


def update_vars_file(settings: Settings, customer: CustomerValues) -> VarsUpdate | None:
    """Write the file if a path is configured (None otherwise). Never raises for bad values or
    an unwritable path: the error is in the result (and the log)."""
    path = vars_path(settings)
    if path is None:
        return None
    try:
        content = render_for(settings, customer)
    except ValueError as exc:
        log.error("FreeSWITCH vars not written to %s: %s", path, exc)
        return VarsUpdate(path, error=f"{NOT_UPDATED}: {exc}")
    try:
        changed = write_vars(path, content)
    except (OSError, ValueError) as exc:  # ValueError: an existing file that is not UTF-8
        log.error("FreeSWITCH vars not written to %s: %s", path, exc)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return VarsUpdate(path, error=f"{NOT_UPDATED}: Die Datei {path} ist nicht beschreibbar "
                                      f"({reason}).")
    return VarsUpdate(path, changed=changed)


def sync_freeswitch_vars(settings: Settings, customer: CustomerValues) -> str | None:
    """For the node's start-up: bring the file up to date; a German error text, else None."""
    result = update_vars_file(settings, customer)
    return result.error if result is not None else None


def vars_file_current(settings: Settings, customer: CustomerValues) -> bool | None:
    """Does the file hold what these settings render to? None: no path configured."""
    path = vars_path(settings)
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8") == render_for(settings, customer)
    except (OSError, ValueError):
        return False
