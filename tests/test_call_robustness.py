"""What the review of the call path found, kept fixed: a barge-in never cancels the agent's
decision, odd audio packets never deafen a call, one broken stream never silences the others,
and a failure while finishing never leaves a chat "In Arbeit". (No "Sind Sie noch da?" while
the caller talks: tests/test_call_turns.py.)"""

from __future__ import annotations

import socket
import time

import gevent

from config.turn_taking import DEFAULT_TURN_TAKING
from esl_controller.call_audio import CallAudio
from esl_controller.pacer import OutgoingStream, Pacer
from esl_controller.testing import Pause, Say, WaitForAgentAudio, WaitForAgentSilence
from media import recording
from media.audio import resample
from media.testing import ScriptedLLM, ScriptedSTT
from models import ChatStatus
from tests.speech import concat, german_speech, pause

ANNOUNCEMENT = ("Einen kleinen Moment bitte, ich verbinde Sie jetzt mit unserer Buchhaltung, "
                "die kann Ihnen bei allen Fragen zur Rechnung weiterhelfen.")


def test_a_cough_during_the_transfer_announcement_does_not_cancel_the_transfer(call_lab):
    call_lab.stt = ScriptedSTT(["Es geht um meine Rechnung.", "Ähm."])
    call_lab.llm = ScriptedLLM([{"reply": ANNOUNCEMENT, "action": "forward",
                                 "target": "buchhaltung"}])
    call_lab.start().seed_practice()
    standin = call_lab.standin()
    record = standin.run([
        WaitForAgentAudio(timeout_s=10), WaitForAgentSilence(silence_s=0.5),
        Say(text="Es geht um meine Rechnung."), WaitForAgentAudio(timeout_s=10), Pause(0.3),
        Say(text="Ähm, ja."), WaitForAgentSilence(silence_s=2.0)], timeout_s=30)
    assert ("transfer", "4930777777 XML voicegate_transfer") in record.executed
    chat = call_lab.chat(standin.uuid)
    assert chat.end_reason == "transfer"
    announcement = [t for t in chat.turns if t[0] == "agent" and t[3]]
    assert announcement and ANNOUNCEMENT.startswith(announcement[0][2])


def test_caller_audio_in_30_ms_packets_and_stray_datagrams_is_still_heard(tmp_path):
    rate = 8000
    audio = CallAudio(rate=rate, host="127.0.0.1", freeswitch_port=9,
                      pacer=Pacer(), recording_path=tmp_path / "r.wav",
                      turn_taking=DEFAULT_TURN_TAKING)
    speech = concat(pause(300), german_speech("Ich brauche einen Termin."), pause(900))
    pcm = resample(speech.pcm, speech.sample_rate, rate)
    audio._on_datagram(b"\x01" * 101)  # an odd datagram first
    for i in range(0, len(pcm), 480):  # a line with 30 ms packets: 480-byte datagrams
        audio._on_datagram(pcm[i:i + 480])
    assert audio.ear.utterances.qsize() == 1
    utterance = audio.ear.utterances.get()
    assert 1.0 < utterance.audio.duration_s < speech.duration_s
    assert audio.close() > 2.0  # the recording has the whole stream


def test_one_broken_stream_does_not_silence_the_other_calls():
    pacer = Pacer()
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(2)
    try:
        broken = OutgoingStream(None, 320)  # sendto(None) raises TypeError in the sender
        good = OutgoingStream(receiver.getsockname(), 320)
        broken.enqueue(b"\x00" * 3200)
        good.enqueue(b"\x01" * 3200)
        pacer.start()
        pacer.add(broken)
        pacer.add(good)
        frames = [receiver.recv(1024) for _ in range(10)]
        assert frames == [b"\x01" * 320] * 10
        assert good.wait_drained(timeout=1) and broken.wait_drained(timeout=1)
    finally:
        pacer.stop()
        receiver.close()


def test_a_failing_recording_still_ends_the_chat_and_frees_the_port(call_lab, monkeypatch):
    close = recording.CallRecorder.close

    def disk_full(self):
        close(self)  # the file is closed, but its last block could not be written
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(recording.CallRecorder, "close", disk_full)
    call_lab.stt = ScriptedSTT(["Nein danke, tschüss."])
    call_lab.llm = ScriptedLLM([{"reply": "Auf Wiederhören!", "action": "end",
                                 "target": "none"}])
    call_lab.start().seed_practice()
    standin = call_lab.standin()
    standin.run([WaitForAgentAudio(timeout_s=10), WaitForAgentSilence(silence_s=0.5),
                 Say(text="Nein danke, tschüss."), WaitForAgentSilence(silence_s=2.0)],
                timeout_s=30)
    chat = call_lab.chat(standin.uuid)
    assert chat.status == ChatStatus.NEU and chat.ended and chat.end_reason == "agent_hangup"
    assert not call_lab.node.services.ports._in_use
    deadline = time.monotonic() + 2
    while len(call_lab.node.services.live) and time.monotonic() < deadline:
        gevent.sleep(0.05)
    assert len(call_lab.node.services.live) == 0
