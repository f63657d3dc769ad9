"""Bad input from FreeSWITCH's side: malformed or truncated frames, a Content-Length that lies,
and two calls at once on one number. Each gets a defined outcome and the server keeps serving."""

from __future__ import annotations

import gevent
import pytest

from esl_controller.testing import (
    RawFreeSwitch,
    Say,
    WaitForAgentAudio,
    WaitForAgentSilence,
)
from media.testing import ScriptedLLM, ScriptedSTT
from models import ChatStatus


def _answer_setup(fs: RawFreeSwitch) -> None:
    """Play FreeSWITCH up to the controller's `answer`: connect, myevents, linger."""
    fs.expect("connect")
    fs.send_connect_reply()
    for name in ("myevents", "linger"):
        fs.expect(name)
        fs.send(b"Content-Type: command/reply\nReply-Text: +OK\n\n")


def _a_normal_call_still_works(call_lab) -> None:
    call_lab.stt._texts[:] = ["Nein danke, tschüss."]
    call_lab.llm._replies[:] = [{"reply": "Auf Wiederhören!", "action": "end", "target": "none"}]
    standin = call_lab.standin()
    record = standin.run([WaitForAgentAudio(timeout_s=10), WaitForAgentSilence(silence_s=0.5),
                          Say(text="Nein danke, tschüss."), WaitForAgentSilence(silence_s=2.0)],
                         timeout_s=20)
    assert record.hangup_by == "controller"
    assert call_lab.chat(standin.uuid).end_reason == "agent_hangup"


@pytest.fixture
def lab(call_lab):
    call_lab.stt, call_lab.llm = ScriptedSTT(), ScriptedLLM()
    call_lab.start().seed_practice()
    return call_lab


@pytest.mark.parametrize("bad", ["garbage", "truncated", "negative-length"])
def test_malformed_reply_to_connect_closes_that_connection_only(lab, bad):
    with RawFreeSwitch(port=lab.port) as fs:
        fs.expect("connect")
        if bad == "garbage":
            fs.send_garbage()
        elif bad == "truncated":
            fs.send(b"Content-Type: command/reply\nReply-Te")
            fs.close()
        else:
            fs.send_bad_content_length("-5")
        if bad != "truncated":
            assert fs.wait_closed(timeout=5)
    gevent.sleep(0.2)
    assert lab.chat(fs.uuid) is None  # no call was ever known
    assert len(lab.node.services.live) == 0
    _a_normal_call_still_works(lab)


@pytest.mark.parametrize("bad", ["garbage", "truncated-event", "lying-content-length"])
def test_malformed_frame_mid_call_ends_the_chat_cleanly(lab, bad):
    with RawFreeSwitch(port=lab.port) as fs:
        _answer_setup(fs)
        answer = fs.expect("sendmsg")
        assert answer.headers.get("execute-app-name") == "answer"
        fs.send(b"Content-Type: command/reply\nReply-Text: +OK\n\n")
        if bad == "garbage":
            fs.send_garbage()
            assert fs.wait_closed(timeout=5)
        elif bad == "truncated-event":
            fs.send_truncated_event(keep=40)
        else:
            fs.send_lying_content_length(claimed_extra=500)
            fs.close()  # the promised bytes never come
    deadline = gevent.Timeout(5)
    with deadline:
        while len(lab.node.services.live):
            gevent.sleep(0.05)
    chat = lab.chat(fs.uuid)
    assert chat.status == ChatStatus.NEU and chat.ended
    assert chat.start_agent == "Empfang"
    if bad == "garbage":
        assert chat.end_reason == "error"
        assert any(kind == "error" and "ESL" in data["message"] for kind, data in chat.events)
    _a_normal_call_still_works(lab)


def test_two_calls_at_once_on_the_same_number_get_their_own_chats(call_lab):
    call_lab.stt = ScriptedSTT(default="Nein danke, tschüss.")
    call_lab.llm = ScriptedLLM(default='{"reply": "Auf Wiederhören!", "action": "end", '
                                       '"target": "none"}')
    call_lab.start().seed_practice()
    script = [WaitForAgentAudio(timeout_s=10), WaitForAgentSilence(silence_s=0.5),
              Say(text="Nein danke, tschüss."), WaitForAgentSilence(silence_s=2.0)]
    first = call_lab.standin(caller_number="491701111111")
    second = call_lab.standin(caller_number="491702222222")
    jobs = [gevent.spawn(s.run, script, timeout_s=20) for s in (first, second)]
    gevent.joinall(jobs, raise_error=True)
    for job, standin, caller in ((jobs[0], first, "491701111111"),
                                 (jobs[1], second, "491702222222")):
        assert job.value.hangup_by == "controller"
        chat = call_lab.chat(standin.uuid)
        assert chat.caller_number == caller and chat.end_reason == "agent_hangup"
        assert chat.transcript[-2:] == [("caller", "Nein danke, tschüss."),
                                        ("agent", "Auf Wiederhören!")]
    # each call had its own unicast ports
    assert jobs[0].value.unicast["local_port"] != jobs[1].value.unicast["local_port"]
