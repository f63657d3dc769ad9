"""What a call is: the channel FreeSWITCH hands over, and the plan the database gives for it.

:func:`load_plan` is the call's one database read, at its start: the time window for the called
number at this moment (window resolution itself: ``models/timewindows.py``,
``resolve_for_number``) and its start agent, the agents, the knowledge base, the customer's tag
choices and the number's recording policy. The plan is frozen: editing agents or windows in the
admin during a call does not change that call.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from agents.actions import AgentProfile
from agents.directory import AgentDirectory
from agents.knowledge.retrieval import KnowledgeBase
from models import CustomerSettings, RecordingPolicy, db, recording_policy
from models.timewindows import resolve_for_number

from .protocol import Event
from .services import CallServices

RATES = (8000, 16000, 32000, 48000)


@dataclass(frozen=True)
class ChannelInfo:
    uuid: str
    called_number: str
    caller_number: str
    caller_name: str
    rate: int

    @classmethod
    def from_event(cls, event: Event) -> ChannelInfo:
        uuid = event.get("Unique-ID") or event.get("variable_uuid") or ""
        if not uuid:
            raise ValueError("channel data without Unique-ID")
        called = (event.get("Caller-Destination-Number")
                  or event.get("Channel-Destination-Number") or "")
        name = event.get("Caller-Caller-ID-Name") or ""
        number = event.get("Caller-Caller-ID-Number") or ""
        try:
            rate = int(event.get("Channel-Read-Codec-Rate") or 8000)
        except ValueError:
            rate = 8000
        return cls(uuid=uuid, called_number=called, caller_number=number,
                   caller_name="" if name in {number, "_undef_"} else name,
                   rate=rate if rate in RATES else 8000)


@dataclass(frozen=True)
class CallPlan:
    window_name: str  # "" when no window matched
    start_agent: AgentProfile | None  # None: the call goes to the fallback
    directory: AgentDirectory
    knowledge: KnowledgeBase | None
    tag_choices: tuple[str, ...]
    policy: RecordingPolicy  # recording on/off, the announcement before the greeting
    recording: str  # the recording's path below the recordings folder; "" = recording off


def load_plan(services: CallServices, channel: ChannelInfo,
              now: dt.datetime | None = None) -> CallPlan:
    now = now or dt.datetime.now(dt.UTC)
    called_number = channel.called_number
    with services.db_app.app_context():
        try:
            window, _tz = resolve_for_number(db.session, called_number, now)
            policy = recording_policy(db.session, called_number)
            directory = AgentDirectory.load(db.session)
            plan = CallPlan(
                window_name=window.name if window is not None else "",
                start_agent=directory.get(window.agent_id) if window is not None else None,
                directory=directory,
                knowledge=services.knowledge_base(db.session),
                tag_choices=tuple(CustomerSettings.get().tag_choices or ()),
                policy=policy,
                recording=f"{now:%Y/%m/%d}/{channel.uuid}.wav" if policy.record else "")
            db.session.commit()
            return plan
        finally:
            db.session.remove()
