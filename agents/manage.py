"""Creating, editing, duplicating and deleting agents (the admin's agent pages use these)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from agents.validation import validate_agent
from config.turn_taking import DEFAULT_TURN_TAKING
from models import Agent, KnowledgeChunk, KnowledgeDocument, TimeWindow

log = logging.getLogger(__name__)

LANGUAGES = {"de": "Deutsch", "en": "Englisch"}
FORMS_OF_ADDRESS = {"Sie": "Sie (förmlich)", "Du": "Du"}


class AgentInvalid(ValueError):
    """The agent cannot be saved; ``errors`` maps field keys to German messages."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _exists(session: Any) -> Any:
    return lambda agent_id: session.get(Agent, agent_id) is not None


def check_agent(session: Any, template: str, name: str, params: dict[str, Any], *,
                language: str = "de", form_of_address: str = "Sie") -> dict[str, str]:
    """All problems of an agent as it would be saved (empty: it may go live)."""
    errors: dict[str, str] = {}
    if not (name or "").strip():
        errors["name"] = "Pflichtfeld"
    if language not in LANGUAGES:
        errors["language"] = "Ungültige Auswahl"
    if form_of_address not in FORMS_OF_ADDRESS:
        errors["form_of_address"] = "Ungültige Auswahl"
    errors.update(validate_agent(template, params, agent_exists=_exists(session)))
    return errors


def create_agent(session: Any, template: str, name: str, params: dict[str, Any] | None = None,
                 *, language: str = "de", voice: str = "", form_of_address: str = "Sie",
                 endpoint_silence_ms: int = DEFAULT_TURN_TAKING.endpoint_silence_ms) -> Agent:
    """A new agent from ``template`` (its defaults filled in); AgentInvalid if incomplete."""
    from agents.templates import TEMPLATES

    values = dict(TEMPLATES[template].defaults()) if template in TEMPLATES else {}
    values.update(params or {})
    errors = check_agent(session, template, name, values, language=language,
                         form_of_address=form_of_address)
    if errors:
        raise AgentInvalid(errors)
    agent = Agent(name=name.strip(), template=template, params=values, language=language,
                  voice=voice, form_of_address=form_of_address,
                  endpoint_silence_ms=endpoint_silence_ms)
    session.add(agent)
    session.flush()
    log.info("agent %s created (%s)", agent.id, template)
    return agent


def update_agent(session: Any, agent: Agent, **changes: Any) -> Agent:
    """Change name, params, language, voice, form_of_address or endpoint_silence_ms."""
    allowed = {"name", "params", "language", "voice", "form_of_address", "endpoint_silence_ms"}
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"cannot change {sorted(unknown)}")
    merged = {k: getattr(agent, k) for k in allowed} | changes
    errors = check_agent(session, agent.template, merged["name"], merged["params"] or {},
                         language=merged["language"], form_of_address=merged["form_of_address"])
    if errors:
        raise AgentInvalid(errors)
    for key, value in changes.items():
        setattr(agent, key, value.strip() if key == "name" else value)
    if "params" in changes:
        agent.params = dict(changes["params"])  # a new object, so the JSON column is saved
    session.flush()
    return agent


def duplicate_agent(session: Any, agent: Agent, name: str | None = None) -> Agent:
    """A copy with the same template, values and knowledge documents (no time windows)."""
    copy = Agent(name=name or f"{agent.name} (Kopie)", template=agent.template,
                 params=dict(agent.params or {}), language=agent.language, voice=agent.voice,
                 form_of_address=agent.form_of_address,
                 endpoint_silence_ms=agent.endpoint_silence_ms)
    session.add(copy)
    session.flush()
    for doc in session.scalars(select(KnowledgeDocument)
                               .where(KnowledgeDocument.agent_id == agent.id)):
        session.add(KnowledgeDocument(
            agent_id=copy.id, filename=doc.filename, content_type=doc.content_type,
            size_bytes=doc.size_bytes, characters=doc.characters,
            embedding_model=doc.embedding_model,
            chunks=[KnowledgeChunk(seq=c.seq, text=c.text, embedding=c.embedding)
                    for c in doc.chunks]))
    session.flush()
    return copy


def windows_using(session: Any, agent_id: int) -> list[TimeWindow]:
    """The time windows that start this agent (they are deleted with it)."""
    return list(session.scalars(select(TimeWindow).where(TimeWindow.agent_id == agent_id)
                                .order_by(TimeWindow.id)))


def agents_referencing(session: Any, agent_id: int) -> list[Agent]:
    """Other agents that forward to this one (they need a new target once it is deleted)."""
    from agents.templates.base import parse_targets

    found = []
    for other in session.scalars(select(Agent).where(Agent.id != agent_id).order_by(Agent.id)):
        params = other.params or {}
        if any(t.agent_id == agent_id for t in parse_targets(params.get("targets"))):
            found.append(other)
    return found


def delete_agent(session: Any, agent: Agent) -> list[TimeWindow]:
    """Delete the agent with its time windows and documents; returns the windows that went."""
    windows = windows_using(session, agent.id)
    for window in windows:  # load what the admin shows before the rows are gone
        _ = (window.name, window.phone_number.number)
    session.delete(agent)
    session.flush()
    log.info("agent %s deleted with %d time windows", agent.id, len(windows))
    return windows
