"""Validation of LLM answers against the JSON-schema subset our schemas use.

Supported: ``type`` (object, string, integer, number, boolean, array, null, or a list of them),
``enum``, ``properties``, ``required``, ``additionalProperties: false``, ``items``, ``maxLength``.
"""

from __future__ import annotations

from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "string": (str,), "integer": (int,), "number": (int, float),
    "boolean": (bool,), "array": (list,), "null": (type(None),),
}


def schema_errors(value: Any, schema: dict[str, Any], path: str = "") -> str | None:
    """The first violation as a short text, or None when ``value`` fits ``schema``."""
    where = path or "Antwort"
    wanted = schema.get("type")
    if wanted is not None:
        names = wanted if isinstance(wanted, list) else [wanted]
        ok = any(isinstance(value, _TYPES[n]) and not (n in ("integer", "number")
                                                       and isinstance(value, bool))
                 for n in names)
        if not ok:
            return f"{where}: Typ {'/'.join(names)} erwartet"
    if "enum" in schema and value not in schema["enum"]:
        return f"{where}: {value!r} ist nicht erlaubt"
    if isinstance(value, str) and "maxLength" in schema and len(value) > schema["maxLength"]:
        return f"{where}: zu lang"
    if isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                return f"{where}: Feld '{key}' fehlt"
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                problem = schema_errors(item, properties[key], f"{path}.{key}".lstrip("."))
                if problem:
                    return problem
            elif schema.get("additionalProperties") is False:
                return f"{where}: unbekanntes Feld '{key}'"
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            problem = schema_errors(item, schema["items"], f"{path}[{i}]")
            if problem:
                return problem
    return None
