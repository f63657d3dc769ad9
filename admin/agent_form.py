"""The agent form: built from a template's parameter declaration, read back into params.

Repeating parameters (targets, steps, webhooks) are rendered as rows: the stored ones plus
empty rows to add more, so no JavaScript is needed. A ``target_key`` parameter (e.g. the
Operator-Bot's default target) is chosen with a radio button in the targets rows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from agents.templates.base import Parameter, Template, slug
from config.turn_taking import DEFAULT_TURN_TAKING

EMPTY_ROWS = 2
STEP_KINDS = {"text": "Freitext", "name": "Name", "phone_number": "Telefonnummer",
              "date": "Datum"}
ROW_FIELDS = {
    "targets": ("key", "label", "kind", "number", "agent_id", "keywords", "description"),
    "steps": ("key", "question", "kind"),
    "webhooks": ("key", "label", "url", "description"),
}


@dataclass
class AgentForm:
    """What the form shows: name, voice settings, parameter values, errors per field."""

    name: str = ""
    language: str = "de"
    voice: str = ""
    form_of_address: str = "Sie"
    endpoint_silence_ms: int = DEFAULT_TURN_TAKING.endpoint_silence_ms
    params: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def rows(self, param: Parameter) -> list[dict[str, Any]]:
        """Stored rows of a repeating parameter plus empty ones."""
        stored = [dict(r) for r in self.params.get(param.key) or [] if isinstance(r, dict)]
        for row in stored:
            if isinstance(row.get("keywords"), list):
                row["keywords"] = ", ".join(str(k) for k in row["keywords"])
        return stored + [{} for _ in range(EMPTY_ROWS)]

    def list_text(self, param: Parameter) -> str:
        value = self.params.get(param.key)
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        return str(value or "")


def target_key_param(template: Template) -> Parameter | None:
    return next((p for p in template.parameters if p.type == "target_key"), None)


def form_from_agent(agent: Any) -> AgentForm:
    return AgentForm(
        name=agent.name, language=agent.language, voice=agent.voice,
        form_of_address=agent.form_of_address, endpoint_silence_ms=agent.endpoint_silence_ms,
        params=dict(agent.params or {}),
    )


def form_for_new(template: Template) -> AgentForm:
    return AgentForm(params=template.defaults())


def _row_values(form: Any, key: str, fields: tuple[str, ...]) -> list[dict[str, str]]:
    columns = {f: form.getlist(f"{key}-{f}") for f in fields}
    count = max((len(v) for v in columns.values()), default=0)
    return [{f: (columns[f][i] if i < len(columns[f]) else "").strip() for f in fields}
            for i in range(count)]


def _parse_targets(form: Any, param: Parameter, errors: dict[str, str],
                   chosen_row: str) -> tuple[list[dict[str, Any]], str]:
    targets: list[dict[str, Any]] = []
    chosen_key = ""
    for index, row in enumerate(_row_values(form, param.key, ROW_FIELDS["targets"])):
        if not (row["label"] or row["number"] or row["agent_id"]):
            continue
        key = row["key"] or slug(row["label"]) or f"ziel_{index + 1}"
        target: dict[str, Any] = {
            "key": key, "label": row["label"], "kind": row["kind"] or "number",
            "keywords": [w.strip() for w in re.split(r"[,;\n]", row["keywords"]) if w.strip()],
            "description": row["description"],
        }
        if target["kind"] == "agent":
            target["agent_id"] = int(row["agent_id"]) if row["agent_id"].isdigit() else None
        else:
            target["number"] = row["number"]
        if not row["label"]:
            errors.setdefault(param.key, f"Ziel {index + 1}: Bitte eine Bezeichnung angeben.")
        targets.append(target)
        if chosen_row == str(index):
            chosen_key = key
    return targets, chosen_key


def _parse_rows(form: Any, param: Parameter) -> list[dict[str, Any]]:
    rows = []
    for index, row in enumerate(_row_values(form, param.key, ROW_FIELDS[param.type])):
        if param.type == "steps":
            if not row["question"]:
                continue
            rows.append({"key": row["key"] or f"schritt_{index + 1}",
                         "question": row["question"], "kind": row["kind"] or "text"})
        else:
            if not (row["label"] or row["url"]):
                continue
            rows.append({"key": row["key"] or slug(row["label"]), "label": row["label"],
                         "url": row["url"], "description": row["description"]})
    return rows


def _parse_number(raw: str, param: Parameter, errors: dict[str, str]) -> int | float | None:
    raw = raw.strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        errors[param.key] = "Bitte eine Zahl eingeben."
        return None
    return int(value) if value.is_integer() else value


def parse_agent_form(form: Any, template: Template) -> AgentForm:
    """Read the submitted form. Errors here are about the form's shape (not a number, a target
    without label); what the values mean is checked by ``agents.validation``."""
    errors: dict[str, str] = {}
    params: dict[str, Any] = {}
    target_key = target_key_param(template)
    chosen_row = form.get(target_key.key, "") if target_key else ""
    for param in template.parameters:
        raw = form.get(param.key, "")
        if param.type == "target_key":
            continue  # set together with the targets
        if param.type == "targets":
            targets, chosen = _parse_targets(form, param, errors, chosen_row)
            params[param.key] = targets
            if target_key is not None:
                params[target_key.key] = chosen or None
        elif param.type in ("steps", "webhooks"):
            params[param.key] = _parse_rows(form, param)
        elif param.type == "boolean":
            params[param.key] = form.get(param.key) == "1"
        elif param.type == "number":
            params[param.key] = _parse_number(raw, param, errors)
        elif param.type == "agent":
            params[param.key] = int(raw) if raw.isdigit() else None
        elif param.type == "list":
            params[param.key] = [line.strip() for line in raw.splitlines() if line.strip()]
        else:
            params[param.key] = raw.strip()
    default_silence = DEFAULT_TURN_TAKING.endpoint_silence_ms
    silence_raw = form.get("endpoint_silence_ms", str(default_silence)).strip()
    silence = int(silence_raw) if silence_raw.isdigit() else default_silence
    if not 200 <= silence <= 3000:
        errors["endpoint_silence_ms"] = "Bitte einen Wert zwischen 200 und 3000 ms angeben."
    return AgentForm(
        name=form.get("name", "").strip()[:200], language=form.get("language", "de"),
        voice=form.get("voice", "").strip()[:100],
        form_of_address=form.get("form_of_address", "Sie"),
        endpoint_silence_ms=silence, params=params, errors=errors,
    )
