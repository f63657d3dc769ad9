"""A node on loopback with deterministic engines, a seeded customer, and the FreeSWITCH
stand-in to call it: the harness of the call-path tests and benchmarks."""

from __future__ import annotations

import datetime as dt
import itertools
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask

from config import EngineSettings, load_settings
from esl_controller.testing import CallRecord, FreeSwitchStandIn
from media.testing import ScriptedLLM, ScriptedSTT, ToneTTS
from models import (
    Agent,
    Chat,
    CustomerSettings,
    PhoneNumber,
    TimeWindow,
    WindowPeriod,
    db,
)
from voicegate.node import Node, build_node

NUMBER = "4930123456"
FALLBACK = "4930999999"
_port_blocks = itertools.count(0)


@dataclass
class ChatView:
    """A chat as the receptionist would read it, loaded fresh from the database."""

    status: str
    called_number: str
    caller_number: str
    start_agent: str
    last_agent: str
    end_reason: str
    transferred_to: str
    summary: str
    turns: list[tuple[str, str, str, bool]]  # (role, agent, text, interrupted)
    events: list[tuple[str, dict[str, Any]]]
    timings: list[dict[str, Any]]
    recordings: list[str]
    answered: bool
    ended: bool

    @property
    def transcript(self) -> list[tuple[str, str]]:
        return [(role, text) for role, _agent, text, _i in self.turns]

    def event_kinds(self) -> list[str]:
        return [kind for kind, _data in self.events]


@dataclass
class CallLab:
    data_dir: Path
    stt: ScriptedSTT | None = None
    llm: ScriptedLLM | None = None
    tts: ToneTTS | None = None
    settings_overrides: dict[str, Any] = field(default_factory=dict)
    node: Node | None = None
    agents: dict[str, int] = field(default_factory=dict)

    def start(self) -> CallLab:
        block = 40000 + (next(_port_blocks) % 20) * 1000
        settings = load_settings(
            self.data_dir, esl_port=0, rtp_port_min=block, rtp_port_max=block + 999,
            engines=EngineSettings(stt="scripted", llm="scripted", tts="tone",
                                   stt_timeout_s=2.0, llm_timeout_s=2.0, tts_timeout_s=2.0),
            **self.settings_overrides)
        if self.tts is None:
            self.tts = ToneTTS(ms_per_char=4.0, min_ms=200.0)
        self.node = build_node(settings, stt=self.stt, llm=self.llm, tts=self.tts,
                               use_configured_engines=False)
        self.node.start(admin=False, status=False, scheduler=False)
        return self

    @property
    def port(self) -> int:
        return self.node.controller.address[1]

    def stop(self) -> None:
        if self.node is not None:
            self.node.stop()

    # ---------------------------------------------------------------- configuration
    def seed_practice(self, *, with_window: bool = True) -> dict[str, int]:
        """Empfang (Operator-Bot, forwards to Notdienst agent or the accounting number) and
        Notdienst (Operator-Bot) on NUMBER, window "immer" → Empfang."""
        with self.node.db_app.app_context():
            customer = CustomerSettings.get()
            customer.name = "Zahnarztpraxis Test"
            customer.fallback_number = FALLBACK
            customer.tag_choices = ["Termin", "Rechnung", "Notfall"]
            notdienst = Agent(name="Notdienst", template="operator", params={
                "greeting": "Hier ist der Notdienst.",
                "targets": [{"key": "bereitschaft", "label": "Bereitschaftsarzt", "kind": "number",
                             "number": "4930555555", "keywords": ["Schmerzen", "Notfall"]}],
                "default_target": "bereitschaft", "max_followups": 1})
            db.session.add(notdienst)
            db.session.flush()
            empfang = Agent(name="Empfang", template="operator", params={
                "greeting": "Praxis Test, guten Tag!",
                "targets": [
                    {"key": "notdienst", "label": "Notdienst", "kind": "agent",
                     "agent_id": notdienst.id, "keywords": ["Notfall", "Schmerzen"]},
                    {"key": "buchhaltung", "label": "Buchhaltung", "kind": "number",
                     "number": "4930777777", "keywords": ["Rechnung"]},
                ],
                "default_target": "buchhaltung", "max_followups": 2})
            db.session.add(empfang)
            phone = PhoneNumber(number=NUMBER, label="Zentrale")
            db.session.add(phone)
            db.session.flush()
            if with_window:
                db.session.add(TimeWindow(phone_number_id=phone.id, agent_id=empfang.id,
                                          name="Immer", kind="immer", category="immer"))
            db.session.commit()
            self.agents = {"Empfang": empfang.id, "Notdienst": notdienst.id}
            return self.agents

    def add_weekly_window(self, agent: str, name: str, weekdays: range, start: dt.time,
                          end: dt.time) -> None:
        with self.node.db_app.app_context():
            phone = db.session.scalar(db.select(PhoneNumber).filter_by(number=NUMBER))
            window = TimeWindow(phone_number_id=phone.id, agent_id=self.agents[agent],
                                name=name, kind="weekly", category="regulaer")
            window.periods = [WindowPeriod(weekday=d, start=start, end=end) for d in weekdays]
            db.session.add(window)
            db.session.commit()

    # ---------------------------------------------------------------- calls
    def standin(self, destination: str = NUMBER, **kwargs: Any) -> FreeSwitchStandIn:
        return FreeSwitchStandIn("127.0.0.1", self.port, destination_number=destination,
                                 **kwargs)

    def call(self, script: list, *, destination: str = NUMBER, timeout_s: float = 30,
             **kwargs: Any) -> CallRecord:
        return self.standin(destination, **kwargs).run(script, timeout_s=timeout_s)

    def chat(self, call_uuid: str, *, settled: bool = True) -> ChatView | None:
        """The chat as stored; ``settled`` first waits until every call session has finished
        (summary and recording are written just after the line is released)."""
        if settled:
            self.node.controller.wait_idle(timeout=15)
        return stored_chat(self.node.db_app, call_uuid)


def stored_chat(db_app: Flask, call_uuid: str) -> ChatView | None:
    """The chat of ``call_uuid`` in ``db_app``'s database, read fresh (None if there is none)."""
    with db_app.app_context():
        try:
            chat = db.session.scalar(db.select(Chat).filter_by(call_uuid=call_uuid))
            if chat is None:
                return None
            return ChatView(
                status=chat.status, called_number=chat.called_number,
                caller_number=chat.caller_number, start_agent=chat.start_agent_name,
                last_agent=chat.last_agent_name, end_reason=chat.end_reason,
                transferred_to=chat.transferred_to, summary=chat.summary,
                turns=[(t.role, t.agent_name, t.text, t.interrupted) for t in chat.turns],
                events=[(e.kind, dict(e.data)) for e in chat.events],
                timings=[dict(t.timings) for t in chat.turns if t.timings],
                recordings=[r.path for r in chat.recordings],
                answered=chat.answered_at is not None, ended=chat.ended_at is not None)
        finally:
            db.session.remove()


def agent_stretches(record: CallRecord, gap_s: float = 0.3) -> list[float]:
    """Durations (s) of the stretches of agent audio the caller heard, split at pauses."""
    stretches: list[float] = []
    start = last = None
    for at, _size in record.agent_packets:
        if last is None or at - last > gap_s:
            if start is not None:
                stretches.append(last - start + 0.02)
            start = at
        last = at
    if start is not None:
        stretches.append(last - start + 0.02)
    return stretches


def free_tcp_port() -> int:
    """A loopback port nothing listens on (a controller that is down, a node's ports)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
