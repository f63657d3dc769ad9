"""Coqui TTS backend: natural neural voices (VITS, XTTS, …) from a model folder.

coqui-tts needs torchaudio, which only loads beside its matching torch build, so Coqui runs in
its own environment (``scripts/coqui_env.sh`` → ``.venv-coqui``) and this class talks to a
worker process there (``coqui_worker.py``: JSON lines over stdin/stdout, model loaded once). The
node's own environment keeps its CPU torch. A worker that hangs is killed after ``timeout_s`` and
restarted on the next sentence; one that dies is restarted too.
"""

from __future__ import annotations

import base64
import binascii
import collections
import itertools
import json
import logging
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from ..engines import Audio, EngineError, EngineTimeout, EngineUnavailable
from ..textnorm import normalize

logger = logging.getLogger(__name__)

WORKER = Path(__file__).with_name("coqui_worker.py")
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PYTHON = REPO_ROOT / ".venv-coqui" / "bin" / "python"


def model_files(model_dir: Path) -> tuple[Path, Path] | None:
    """(checkpoint, config.json) of a Coqui model folder, or None when incomplete."""
    config = model_dir / "config.json"
    checkpoints = sorted(model_dir.glob("*.pth"))
    if not config.is_file() or not checkpoints:
        return None
    preferred = [p for p in checkpoints if p.name in ("model.pth", "model_file.pth")]
    return (preferred or checkpoints)[0], config


class _Worker:
    """One worker process and the thread that reads its stdout lines into a queue."""

    def __init__(self, command: list[str]):
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        threading.Thread(target=self._read_stdout, daemon=True, name="coqui-out").start()
        threading.Thread(target=self._read_stderr, daemon=True, name="coqui-err").start()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)  # end of output: the worker exited

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            self.stderr_tail.append(line)
            logger.debug("coqui worker: %s", line)

    def send(self, payload: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(payload).encode("utf-8") + b"\n")
        self.process.stdin.flush()

    def receive(self, timeout_s: float) -> dict[str, Any] | None:
        """The next reply; None when the worker exited. Raises queue.Empty on timeout."""
        line = self.lines.get(timeout=timeout_s)
        return None if line is None else json.loads(line)

    def why_dead(self) -> str:
        try:
            code = self.process.wait(timeout=1.0)  # its stdout closed: it is exiting
        except subprocess.TimeoutExpired:
            code = None
        tail = " | ".join(list(self.stderr_tail)[-3:])
        return f"Worker beendet / worker exited (code {code}): {tail}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


class CoquiTTS:
    """Speaks with a Coqui model folder (``model.pth`` + ``config.json``) via the worker."""

    name = "coqui"
    waits_on = "subprocess"  # it waits for the worker process (esl_controller/offload.py)

    def __init__(self, model_dir: str | Path, *, python: str | Path = DEFAULT_PYTHON,
                 speaker: str = "", device: str = "cpu", threads: int = 0,
                 timeout_s: float = 10.0, load_timeout_s: float = 180.0):
        folder = Path(model_dir)
        files = model_files(folder) if folder.is_dir() else None
        if files is None:
            raise EngineUnavailable(
                self.name, f"Stimme unvollständig / voice incomplete in {folder}: "
                "model.pth und/and config.json nötig / needed")
        interpreter = Path(python)
        if not interpreter.is_file():
            raise EngineUnavailable(
                self.name, f"Coqui-Umgebung fehlt / environment missing: {interpreter} — "
                "scripts/coqui_env.sh ausführen / run scripts/coqui_env.sh")
        self.model_dir = folder
        self.speaker = speaker
        self.timeout_s = timeout_s
        self.load_timeout_s = load_timeout_s
        self._command = [str(interpreter), str(WORKER), "--model", str(files[0]),
                         "--config", str(files[1]), "--device", device, "--threads",
                         str(threads)]
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._worker: _Worker | None = None
        self.sample_rate = 0
        with self._lock:
            self._start()

    def _start(self) -> _Worker:
        started = time.monotonic()
        worker = _Worker(self._command)
        try:
            hello = worker.receive(self.load_timeout_s)
        except queue.Empty:
            worker.stop()
            raise EngineUnavailable(self.name, f"Modell nicht in {self.load_timeout_s:g} s "
                                    "geladen / model not loaded in time") from None
        except json.JSONDecodeError as exc:
            worker.stop()
            raise EngineUnavailable(self.name, f"Worker spricht kein JSON / bad worker: {exc}"
                                    ) from exc
        if hello is None or not hello.get("ready"):
            detail = hello.get("error") if hello else worker.why_dead()
            worker.stop()
            raise EngineUnavailable(self.name, f"Modell {self.model_dir.name} lässt sich nicht "
                                    f"laden / cannot load: {detail}")
        self.sample_rate = int(hello["sample_rate"])
        self._worker = worker
        logger.info("coqui worker for %s ready in %.1f s (%d Hz)", self.model_dir.name,
                    time.monotonic() - started, self.sample_rate)
        return worker

    def synthesize(self, text: str, *, language: str = "de", voice: str = "") -> Audio:
        spoken = normalize(text, language)
        with self._lock:
            worker = self._worker
            if worker is None or worker.process.poll() is not None:
                if worker is not None:
                    logger.warning("coqui worker died, restarting: %s", worker.why_dead())
                    worker.stop()
                worker = self._start()
            request_id = next(self._ids)
            try:
                worker.send({"id": request_id, "text": spoken, "speaker": voice or self.speaker,
                             "language": language})
                reply = worker.receive(self.timeout_s)
            except queue.Empty:
                worker.stop()
                self._worker = None
                raise EngineTimeout(self.name, f"keine Antwort nach / no answer after "
                                    f"{self.timeout_s:g} s (Worker neu gestartet / restarted)"
                                    ) from None
            except (BrokenPipeError, json.JSONDecodeError) as exc:
                worker.stop()
                self._worker = None
                raise EngineError(self.name, f"Worker-Fehler / worker fault: {exc}") from exc
        return self._audio(reply, request_id, spoken, worker)

    def _audio(self, reply: dict[str, Any] | None, request_id: int, spoken: str,
               worker: _Worker) -> Audio:
        if reply is None:
            raise EngineError(self.name, worker.why_dead())
        if reply.get("id") != request_id:
            raise EngineError(self.name, f"Antwort zu falscher Anfrage / reply for request "
                              f"{reply.get('id')!r}, expected {request_id}")
        if "error" in reply:
            raise EngineError(self.name, f"Synthese fehlgeschlagen / failed: {reply['error']}")
        try:
            pcm = base64.b64decode(reply["pcm"], validate=True)
            rate = int(reply["sample_rate"])
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise EngineError(self.name, f"unlesbare Antwort / unreadable reply: {exc}") from exc
        if len(pcm) % 2 or (spoken.strip() and not pcm) or rate <= 0:
            raise EngineError(self.name, "ungültiger Ton / invalid audio")
        return Audio(pcm=pcm, sample_rate=rate)

    def close(self) -> None:
        """Stop the worker (node shutdown, tests)."""
        with self._lock:
            if self._worker is not None:
                self._worker.stop()
                self._worker = None
