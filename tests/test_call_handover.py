"""Agent A hands the call to agent B mid-call; B transfers to a configured number."""

from __future__ import annotations

from esl_controller.testing import Say, WaitForAgentAudio, WaitForAgentSilence
from media.testing import ScriptedLLM, ScriptedSTT
from models import ChatStatus


def test_handover_to_another_agent_carries_the_context_and_b_speaks_next(call_lab):
    call_lab.stt = ScriptedSTT(["Ich habe einen Notfall, mein Zahn tut furchtbar weh.",
                                "Seit gestern Abend, es pocht."])
    call_lab.llm = ScriptedLLM([
        {"reply": "", "action": "forward", "target": "notdienst"},
        {"reply": "", "action": "forward", "target": "bereitschaft"},
    ])
    call_lab.start().seed_practice()
    standin = call_lab.standin()
    record = standin.run([
        WaitForAgentAudio(timeout_s=10), WaitForAgentSilence(silence_s=0.5),
        Say(text="Ich habe einen Notfall, mein Zahn tut furchtbar weh."),
        WaitForAgentAudio(timeout_s=10), WaitForAgentSilence(silence_s=0.5),
        Say(text="Seit gestern Abend, es pocht."),
        WaitForAgentSilence(silence_s=3.0, timeout_s=15),
    ], timeout_s=30)

    chat = call_lab.chat(standin.uuid)
    assert chat.start_agent == "Empfang" and chat.last_agent == "Notdienst"
    caller_first = chat.turns.index(
        ("caller", "", "Ich habe einen Notfall, mein Zahn tut furchtbar weh.", False))
    after = [(role, agent, text) for role, agent, text, _i in chat.turns[caller_first + 1:]]
    # Empfang may announce the handover; the next thing after that is Notdienst's greeting
    notdienst_turns = [t for t in after if t[1] == "Notdienst"]
    assert notdienst_turns[0][2].startswith("Hier ist der Notdienst.")
    assert all(agent in ("Empfang", "Notdienst") for _r, agent, _t in after if _r == "agent")
    handovers = [data for kind, data in chat.events if kind == "handover"]
    assert handovers == [{"from_agent": "Empfang", "to_agent": "Notdienst",
                          "reason": handovers[0]["reason"]}]
    # the context carried over: Notdienst's LLM saw what the caller told Empfang
    notdienst_request, _tools = call_lab.llm.requests[1]
    assert any("furchtbar weh" in m.content for m in notdienst_request if m.role == "user")
    # Notdienst forwarded to its configured number: the call left through FreeSWITCH
    assert record.transferred_to is not None and "4930555555" in record.transferred_to
    assert ("transfer", "4930555555 XML voicegate_transfer") in record.executed
    assert chat.end_reason == "transfer" and chat.transferred_to == "4930555555"
    assert chat.status == ChatStatus.NEU
