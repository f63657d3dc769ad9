"""No conversation data reaches the master: unique markers in the node's transcript, caller
number, caller name, summary, recording path and agent prompt never show up in anything the master
received or stored."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from master import registry
from master.testing import RunningMaster, start_master
from models import Agent, Chat, ChatEvent, ChatStatus, PhoneNumber, Recording, TimeWindow, Turn, db
from node_sync.client import NodeSync, enroll
from tests.master_support import make_node_db


@pytest.fixture
def master(tmp_path: Path) -> Iterator[RunningMaster]:
    running = start_master(tmp_path / "master")
    yield running
    running.stop()


def conversation_markers() -> dict[str, str]:
    tag = uuid.uuid4().hex[:12]
    return {
        "transcript": f"Transkript-Geheimnis-{tag}",
        "agent_reply": f"Agentenantwort-{tag}",
        "caller_number": f"49170{int(tag, 16) % 10**9:09d}",
        "caller_name": f"Anrufername-{tag}",
        "summary": f"Zusammenfassung-{tag}",
        "followup": f"Rueckruf-Notiz-{tag}",
        "tool_data": f"Werkzeugdaten-{tag}",
        "recording": f"aufnahme-{tag}.wav",
        "prompt": f"Agenten-Prompt-{tag}",
        "greeting": f"Begruessung-{tag}",
    }


def write_conversations(node_db, markers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    with node_db.app_context():
        agent = Agent(name="Empfang", template="operator_bot",
                      params={"prompt": markers["prompt"], "greeting": markers["greeting"]})
        number = PhoneNumber(number="4930555000", label="Zentrale")
        db.session.add_all([agent, number])
        db.session.flush()
        db.session.add(TimeWindow(phone_number_id=number.id, agent_id=agent.id, name="Immer",
                                  kind="immer", category="immer"))
        for index, end_reason in enumerate(["agent_hangup", "error", ""]):
            chat = Chat(
                call_uuid=str(uuid.uuid4()), called_number="4930555000",
                caller_number=markers["caller_number"], caller_name=markers["caller_name"],
                start_agent_id=agent.id, start_agent_name="Empfang", last_agent_name="Empfang",
                status=ChatStatus.IN_ARBEIT if index == 2 else ChatStatus.NEU,
                end_reason=end_reason,
                summary=markers["summary"], tags=["Rueckruf"],
                followup_note=markers["followup"],
            )
            chat.turns = [
                Turn(seq=1, role="agent", agent_name="Empfang", text=markers["agent_reply"]),
                Turn(seq=2, role="caller", text=markers["transcript"]),
            ]
            chat.events = [ChatEvent(seq=1, kind="tool_call", data={"args": markers["tool_data"]})]
            chat.recordings = [Recording(path=markers["recording"])]
            db.session.add(chat)
        db.session.commit()


def test_no_conversation_data_reaches_the_master(master: RunningMaster, tmp_path: Path) -> None:
    markers = conversation_markers()
    node_dir = tmp_path / "node"
    node_db = make_node_db(node_dir)
    write_conversations(node_db, markers)
    enroll(master.url, master.add_node("kunde-privat"), master.ca_file, node_dir)
    sync = NodeSync(node_dir, node_db, calls_in_progress=lambda: 1,
                    engine_status=lambda: {"stt": "ok", "llm": "ok", "tts": "ok"},
                    rng=random.Random(1))

    # Several rounds covering every payload kind: config, new numbers, a gap report.
    assert sync.sync_once().ok
    master.on_node("kunde-privat", registry.add_number, "4930555001", "Vertrieb")
    master.on_node("kunde-privat", registry.set_config,
                   {"engines": {"llm": "ollama"}, "features": {"wissen": True}})
    assert sync.sync_once().ok
    port = master.port
    master.stop()
    assert not sync.sync_once().ok
    master.port = port
    master.start()
    assert sync.sync_once().ok

    assert master.scan_for(list(markers.values())) == []
    # The scan itself works: what the node is allowed to send, and what the master stores, is
    # found by the same function.
    assert master.scan_for(["calls_failed_24h"]), "health bodies were recorded and scanned"
    assert master.scan_for(["kunde-privat"]), "the master's database files were scanned"
    health = [r for r in master.recorder.requests if r.path == "/api/node/v1/health"]
    assert len(health) == 3 and b'"calls_failed_24h": 1' in health[-1].body
