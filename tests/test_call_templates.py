"""Every shipped template runs whole calls through the FreeSWITCH stand-in — with the real
`ollama` client against a server speaking Ollama's protocol, and in keyword mode without an
LLM — on the demo customer that `voicegate demo` seeds."""

from __future__ import annotations

import re

import pytest

from agents.demo import seed_demo
from agents.manage import create_agent
from esl_controller.testing import HangUp, Say, WaitForAgentAudio, WaitForAgentSilence
from media.llm.ollama import OllamaLLM
from media.testing import ScriptedSTT
from models import Agent, ChatStatus, PhoneNumber, TimeWindow, db
from tests.call_lab import CallLab
from tests.ollama_server import DEFAULT_MODEL, OllamaServer

pytestmark = pytest.mark.slow

DEMO_NUMBER = "4930123456"


def _route_demo_number_to(lab: CallLab, agent_name: str) -> None:
    with lab.node.db_app.app_context():
        seed_demo(db.session)
        if agent_name == "Termin":
            create_agent(db.session, "workflow", "Termin", {
                "greeting": "Terminvergabe, guten Tag!",
                "steps": [{"key": "name", "question": "Wie ist Ihr Name?", "kind": "name"},
                          {"key": "wunsch", "question": "Wann hätten Sie gern einen Termin?",
                           "kind": "date"}],
                "confirm": False})
        number = db.session.scalar(db.select(PhoneNumber).filter_by(number=DEMO_NUMBER))
        agent = db.session.scalar(db.select(Agent).filter_by(name=agent_name))
        number.windows.clear()
        db.session.flush()
        db.session.add(TimeWindow(phone_number_id=number.id, agent_id=agent.id,
                                  name="Immer", kind="immer"))
        db.session.commit()


def _call(lab: CallLab, says: list[str], *, hang_up: bool):
    script = [WaitForAgentAudio(timeout_s=10), WaitForAgentSilence(silence_s=0.5)]
    for text in says:
        script += [Say(text=text), WaitForAgentAudio(timeout_s=10),
                   WaitForAgentSilence(silence_s=0.5)]
    script.append(WaitForAgentSilence(silence_s=1.5))
    if hang_up:  # the knowledge agent keeps the line open for more questions
        script.append(HangUp())
    standin = lab.standin(destination=DEMO_NUMBER)
    record = standin.run(script, timeout_s=40)
    return record, lab.chat(standin.uuid)


CASES = {
    # agent, what the caller says, what the Ollama-protocol server answers (None: keyword mode)
    "operator": ("Empfang", ["Ich habe eine Frage zu meiner Rechnung."],
                 [{"reply": "Ich verbinde Sie mit der Rezeption.", "action": "forward",
                   "target": "rezeption"}]),
    "workflow": ("Termin", ["Jonas Weber", "Am Montag früh"],
                 [{"name": "Jonas Weber", "wunsch": ""}, {"name": "", "wunsch": "Montag früh"}]),
    "voicemail": ("Anrufbeantworter",
                  ["Anna Berger", "null drei null eins zwei drei vier", "ja",
                   "Bitte rufen Sie mich wegen meiner Rechnung zurück."],
                  [{"name": "Anna Berger", "rueckrufnummer": "", "anliegen": ""},
                   {"name": "", "rueckrufnummer": "0301234", "anliegen": ""},
                   {"name": "", "rueckrufnummer": "", "anliegen": ""},
                   {"name": "", "rueckrufnummer": "",
                    "anliegen": "Bitte um Rückruf wegen der Rechnung"}]),
    "knowledge": ("Praxis-Info", ["Wo kann ich parken?"],
                  ["Parkplätze gibt es im Parkhaus am Markt."]),
}


@pytest.mark.parametrize("mode", ["ollama", "keyword"])
@pytest.mark.parametrize("template", list(CASES))
def test_template_runs_a_whole_call(call_lab, template, mode):
    agent, says, answers = CASES[template]
    call_lab.stt = ScriptedSTT(says)
    server = None
    if mode == "ollama":
        server = OllamaServer(answers, default='{"summary": "Anruf.", "tags": [], '
                                              '"caller_name": ""}').__enter__()
        call_lab.llm = OllamaLLM(DEFAULT_MODEL, host=server.url, timeout_s=5.0)
    else:
        call_lab.llm = None
    try:
        call_lab.start()
        _route_demo_number_to(call_lab, agent)
        record, chat = _call(call_lab, says, hang_up=template == "knowledge")
    finally:
        if server is not None:
            server.__exit__(None, None, None)

    assert chat.start_agent == agent and chat.status == ChatStatus.NEU, chat
    caller_lines = [text for role, text in chat.transcript if role == "caller"]
    assert caller_lines == says
    agent_text = " ".join(text for role, text in chat.transcript if role == "agent")
    if template == "operator":
        assert ("transfer", "4930123458 XML voicegate_transfer") in record.executed
        assert chat.end_reason == "transfer"
    elif template == "knowledge":
        assert "Parkhaus am Markt" in agent_text
    else:
        assert chat.end_reason == "agent_hangup" and record.hangup_by == "controller"
    if template == "voicemail":  # the number is read back digit by digit
        digits = re.sub(r"[^a-zäöüß ]", "", agent_text.lower())
        assert "null drei null eins zwei drei vier" in re.sub(r" +", " ", digits)
    if mode == "ollama":
        assert server.requests, "the LLM was never asked"
    assert chat.summary
