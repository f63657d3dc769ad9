"""A snapshot of the customer's agents for one call (a handover needs the target's profile)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from agents.actions import AgentProfile


class AgentDirectory:
    """The agents that exist when the call starts, plus the customer's fallback number.

    A snapshot: editing an agent in the admin during a call does not change that call.
    """

    def __init__(self, profiles: Iterable[AgentProfile], *, fallback_number: str = ""):
        self._by_id = {p.id: p for p in profiles}
        self.fallback_number = fallback_number

    def get(self, agent_id: int | None) -> AgentProfile | None:
        if agent_id is None:
            return None
        try:
            return self._by_id.get(int(agent_id))
        except (TypeError, ValueError):
            return None

    def __contains__(self, agent_id: object) -> bool:
        return isinstance(agent_id, int) and agent_id in self._by_id

    def __iter__(self) -> Iterator[AgentProfile]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    @classmethod
    def load(cls, session: Any) -> AgentDirectory:
        """All Agent rows of this node (``session``: a SQLAlchemy session, e.g. db.session)."""
        from sqlalchemy import select

        from models import Agent, CustomerSettings

        rows = session.scalars(select(Agent).order_by(Agent.id)).all()
        settings = session.get(CustomerSettings, 1)
        fallback = settings.fallback_number if settings is not None else ""
        return cls((AgentProfile.from_row(r) for r in rows), fallback_number=fallback or "")
