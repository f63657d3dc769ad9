"""The templates the product ships, by key."""

from __future__ import annotations

from agents.templates.base import Parameter, Target, Template
from agents.templates.operator import OperatorBot

TEMPLATES: dict[str, Template] = {t.key: t for t in (OperatorBot(),)}


def get_template(key: str) -> Template:
    """The template ``key``; KeyError for an unknown key."""
    return TEMPLATES[key]


__all__ = ["TEMPLATES", "Parameter", "Target", "Template", "get_template"]
