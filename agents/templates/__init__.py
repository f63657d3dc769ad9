"""The templates the product ships, by key."""

from __future__ import annotations

from agents.templates.base import Parameter, Target, Template
from agents.templates.knowledge import KnowledgeAgent
from agents.templates.operator import OperatorBot
from agents.templates.voicemail import SmartVoicemail
from agents.templates.workflow import WorkflowBot

TEMPLATES: dict[str, Template] = {
    t.key: t for t in (OperatorBot(), WorkflowBot(), SmartVoicemail(), KnowledgeAgent())
}


def get_template(key: str) -> Template:
    """The template ``key``; KeyError for an unknown key."""
    return TEMPLATES[key]


__all__ = ["TEMPLATES", "Parameter", "Target", "Template", "get_template"]
