"""Real calls through the stand-in leave unique markers in the node's chats (transcript, caller
number, agent prompt and replies); a sync to the master over HTTPS — during a call and after —
carries none of them, and the master stores none of them."""

from __future__ import annotations

import random
import uuid

import gevent

from esl_controller.testing import Say, WaitForAgentAudio, WaitForAgentSilence
from master.testing import start_master
from media.testing import ScriptedLLM, ScriptedSTT
from models import Agent, db
from node_sync.client import NodeSync, enroll


def test_real_calls_leave_no_trace_on_the_master(call_lab, tmp_path):
    tag = uuid.uuid4().hex[:10]
    said = f"Mein Geheimnis ist {tag} Punkt"
    caller_number = f"4917{int(tag, 16) % 10**9:09d}"
    prompt = f"Prompt-Marker-{tag}"
    reply = f"Antwort-Marker-{tag}."
    call_lab.stt = ScriptedSTT([said])
    call_lab.llm = ScriptedLLM([{"reply": reply, "action": "end", "target": "none"},
                                {"summary": f"Zusammenfassung-{tag}", "tags": [],
                                 "caller_name": f"Name-{tag}"}])
    call_lab.start().seed_practice()
    with call_lab.node.db_app.app_context():
        empfang = db.session.scalar(db.select(Agent).filter_by(name="Empfang"))
        empfang.params = {**empfang.params, "instructions": prompt}
        db.session.commit()

    master = start_master(tmp_path / "master")
    try:
        node_dir = call_lab.data_dir
        enroll(master.url, master.add_node("praxis"), master.ca_file, node_dir)
        sync = NodeSync(node_dir, call_lab.node.db_app,
                        calls_in_progress=lambda: len(call_lab.node.services.live),
                        engine_status=lambda: {"stt": "ok", "llm": "ok", "tts": "ok"},
                        rng=random.Random(1))
        standin = call_lab.standin(caller_number=caller_number)
        call = gevent.spawn(standin.run, [
            WaitForAgentAudio(timeout_s=10), WaitForAgentSilence(silence_s=0.5),
            Say(text="Mein Geheimnis"), WaitForAgentSilence(silence_s=2.0)], timeout_s=30)
        gevent.sleep(1.0)  # the call is in progress: a sync round now
        assert len(call_lab.node.services.live) == 1
        assert gevent.get_hub().threadpool.apply(sync.sync_once).ok
        call.get()
        assert gevent.get_hub().threadpool.apply(sync.sync_once).ok

        chat = call_lab.chat(standin.uuid)
        assert ("caller", said) in chat.transcript and chat.caller_number == caller_number
        assert any(reply in text for _role, text in chat.transcript)
        markers = [tag, caller_number, prompt, reply]
        assert master.scan_for(markers) == []
        assert master.scan_for(["praxis"]), "the scan reads what the master stored"
    finally:
        master.stop()
