"""Asks the ESL controller's local status endpoint how the node is doing."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import requests

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Engines:
    ready: bool = False
    stt: str = ""
    llm: str = ""
    tts: str = ""
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class ControllerStatus:
    up: bool
    version: str = ""
    live_calls: tuple[dict[str, Any], ...] = ()
    engines: Engines = field(default_factory=Engines)
    error: str = ""


def fetch_status(url: str, timeout_s: float) -> ControllerStatus:
    """The controller's status; ``up`` False (with a German reason) when it does not answer."""
    try:
        response = requests.get(url, timeout=timeout_s)
        response.raise_for_status()
        data = response.json()
    except requests.ConnectionError:
        return ControllerStatus(up=False, error="keine Verbindung")
    except requests.Timeout:
        return ControllerStatus(up=False, error="keine Antwort (Zeitüberschreitung)")
    except (requests.RequestException, ValueError) as exc:
        log.warning("controller status at %s unusable: %s", url, exc)
        return ControllerStatus(up=False, error="ungültige Antwort")
    if not isinstance(data, dict):
        return ControllerStatus(up=False, error="ungültige Antwort")
    engines = data.get("engines") if isinstance(data.get("engines"), dict) else {}
    calls = data.get("live_calls") if isinstance(data.get("live_calls"), list) else []
    return ControllerStatus(
        up=bool(data.get("controller_up")),
        version=str(data.get("version") or ""),
        live_calls=tuple(c for c in calls if isinstance(c, dict)),
        engines=Engines(
            ready=bool(engines.get("ready")),
            stt=str(engines.get("stt") or ""), llm=str(engines.get("llm") or ""),
            tts=str(engines.get("tts") or ""),
            problems=tuple(str(p) for p in engines.get("problems") or ()),
        ),
    )
