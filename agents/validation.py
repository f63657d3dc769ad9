"""Checks an agent's parameter values against its template's declaration.

The result maps a field key to a German message the admin shows next to that field; an agent
with any error cannot go live.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from agents.templates import TEMPLATES
from agents.templates.base import Parameter, parse_targets
from models.phone import is_phone_number

REQUIRED = "Pflichtfeld"
BAD_PHONE = "Keine gültige Telefonnummer"
AGENT_GONE = "Agent existiert nicht mehr"
MAX_TEXT = 2000
MAX_LONG_TEXT = 20000
STEP_KINDS = ("text", "name", "phone_number", "date")


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def validate_agent(template_key: str, params: dict[str, Any], *,
                   agent_exists: Callable[[int], bool]) -> dict[str, str]:
    """Field key -> German error; empty when the agent may go live."""
    template = TEMPLATES.get(template_key)
    if template is None:
        return {"template": "Unbekannte Vorlage"}
    if not isinstance(params, dict):
        return {"params": "Parameter fehlen"}
    errors: dict[str, str] = {}
    for param in template.parameters:
        value = params.get(param.key)
        if _empty(value):
            if param.required and _empty(param.default):
                errors[param.key] = REQUIRED
            continue
        problem = _check(param, value, agent_exists)
        if problem:
            errors[param.key] = problem
    for key, message in template.check(params).items():
        errors.setdefault(key, message)
    return errors


def _check(param: Parameter, value: Any, agent_exists: Callable[[int], bool]) -> str | None:
    kind = param.type
    if kind in ("text", "long_text", "target_key"):
        if not isinstance(value, str):
            return "Muss ein Text sein"
        limit = MAX_LONG_TEXT if kind == "long_text" else MAX_TEXT
        return f"Höchstens {limit} Zeichen" if len(value) > limit else None
    if kind == "phone_number":
        return None if is_phone_number(value) else BAD_PHONE
    if kind == "agent":
        if not isinstance(value, int) or isinstance(value, bool):
            return "Kein gültiger Agent"
        return None if agent_exists(value) else AGENT_GONE
    if kind == "choice":
        return None if value in {c[0] for c in param.choices} else "Ungültige Auswahl"
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "Muss eine Zahl sein"
        if param.minimum is not None and value < param.minimum or \
                param.maximum is not None and value > param.maximum:
            return f"Muss zwischen {param.minimum:g} und {param.maximum:g} liegen"
        return None
    if kind == "boolean":
        return None if isinstance(value, bool) else "Muss ja oder nein sein"
    if kind == "list":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else "Muss eine Liste von Texten sein"
    if kind == "targets":
        return _check_targets(value, agent_exists)
    if kind == "steps":
        return _check_steps(value)
    if kind == "webhooks":
        return _check_webhooks(value)
    return None


def _check_targets(value: Any, agent_exists: Callable[[int], bool]) -> str | None:
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        return "Muss eine Liste von Zielen sein"
    for i, item in enumerate(value, start=1):
        label = str(item.get("label") or "").strip()
        name = f"Ziel {i}" + (f" „{label}“" if label else "")
        if not label:
            return f"{name}: Bezeichnung fehlt"
        if item.get("kind") == "number":
            if not is_phone_number(item.get("number")):
                return f"{name}: {BAD_PHONE}"
        elif item.get("kind") == "agent":
            agent_id = item.get("agent_id")
            if not isinstance(agent_id, int) or isinstance(agent_id, bool):
                return f"{name}: Kein Agent gewählt"
            if not agent_exists(agent_id):
                return f"{name}: {AGENT_GONE}"
        else:
            return f"{name}: Art muss Rufnummer oder Agent sein"
        keywords = item.get("keywords", [])
        if not isinstance(keywords, list | str):
            return f"{name}: Stichworte müssen eine Liste sein"
    if len(parse_targets(value)) != len(value):
        return "Zwei Ziele haben denselben Schlüssel"
    return None


def _check_steps(value: Any) -> str | None:
    if not isinstance(value, list) or not value:
        return REQUIRED
    keys: set[str] = set()
    for i, item in enumerate(value, start=1):
        if not isinstance(item, dict) or not str(item.get("question") or "").strip():
            return f"Schritt {i}: Frage fehlt"
        if item.get("kind", "text") not in STEP_KINDS:
            return f"Schritt {i}: unbekannte Art"
        key = str(item.get("key") or f"schritt_{i}")
        if key in keys:
            return f"Schritt {i}: Schlüssel doppelt"
        keys.add(key)
    return None


def _check_webhooks(value: Any) -> str | None:
    if not isinstance(value, list):
        return "Muss eine Liste sein"
    for i, item in enumerate(value, start=1):
        if not isinstance(item, dict) or not str(item.get("label") or item.get("key") or ""):
            return f"Webhook {i}: Bezeichnung fehlt"
        url = str(item.get("url") or "")
        if not re.match(r"^https?://[^\s/]+", url):
            return f"Webhook {i}: Keine gültige URL"
    return None
