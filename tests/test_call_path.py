"""A phone call answered end to end through real sockets: the FreeSWITCH stand-in dials the
controller, the time window picks the agent, audio flows over unicast UDP, the chat is stored."""

from __future__ import annotations

import gevent

from esl_controller.testing import Say, WaitForAgentAudio, WaitForAgentSilence
from media.testing import ScriptedLLM, ScriptedSTT
from models import ChatStatus
from tests.call_lab import NUMBER, agent_stretches


def _listen_then(text: str) -> list:
    return [WaitForAgentAudio(timeout_s=10), WaitForAgentSilence(silence_s=0.5, timeout_s=10),
            Say(text=text)]


def test_caller_is_greeted_answered_and_the_agent_hangs_up(call_lab):
    call_lab.stt = ScriptedSTT(["Wann haben Sie geöffnet?", "Nein danke, tschüss."])
    call_lab.llm = ScriptedLLM([
        {"reply": "Wir haben Montag bis Freitag von acht bis achtzehn Uhr geöffnet. "
                  "Kann ich sonst noch helfen?", "action": "ask", "target": "none"},
        {"reply": "Gern geschehen, auf Wiederhören!", "action": "end", "target": "none"},
    ])
    call_lab.start().seed_practice()
    standin = call_lab.standin(caller_number="491701234567")
    statuses: list[str] = []

    def watch() -> None:
        while True:
            view = call_lab.chat(standin.uuid, settled=False)
            if view is not None:
                statuses.append(view.status)
            gevent.sleep(0.05)

    watcher = gevent.spawn(watch)
    record = standin.run(
        _listen_then("Wann haben Sie geöffnet?")
        + _listen_then("Nein danke, tschüss.")
        + [WaitForAgentSilence(silence_s=2.0, timeout_s=10)],
        timeout_s=30)
    watcher.kill()

    assert record.answered and record.hangup_by == "controller", record.errors
    assert record.unicast is not None and record.unicast["remote_ip"] == "127.0.0.1"
    # the caller heard the greeting and both replies: three stretches of agent audio
    assert len(agent_stretches(record)) == 3
    assert ChatStatus.IN_ARBEIT in statuses
    chat = call_lab.chat(standin.uuid)
    assert chat.status == ChatStatus.NEU and chat.ended and chat.answered
    assert (chat.called_number, chat.caller_number) == (NUMBER, "491701234567")
    assert (chat.start_agent, chat.last_agent) == ("Empfang", "Empfang")
    assert chat.end_reason == "agent_hangup"
    assert chat.transcript == [
        ("agent", "Praxis Test, guten Tag!"),
        ("caller", "Wann haben Sie geöffnet?"),
        ("agent", "Wir haben Montag bis Freitag von acht bis achtzehn Uhr geöffnet. "
                  "Kann ich sonst noch helfen?"),
        ("caller", "Nein danke, tschüss."),
        ("agent", "Gern geschehen, auf Wiederhören!"),
    ]
    replies = [t for t in chat.timings if "total" in t]
    assert len(replies) == 2
    for timing in replies:
        assert timing["endpoint"] == 600
        assert timing["total"] >= timing["endpoint"]
    assert chat.recordings and chat.summary
