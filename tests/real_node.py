"""The node as an operator runs it, for end-to-end tests: ``voicegate run --data DIR`` in its own
process (gevent-patched exactly as in production), seeded with ``voicegate demo``, with the
real default engines (espeak-ng, faster-whisper base from ``voicegate models pull``, keyword
mode without an LLM).

    models = pulled_models(tmp_path_factory.mktemp("models"))    # once per session
    node = RealNode.create(tmp / "node", models=models, freeswitch=fs)
    node.start()                       # returns when ESL, status and admin listen
    chat = node.wait_chat(call.call_uuid)      # once the call is over and the chat settled
    node.test_call("Hallo?")           # `voicegate call`: the stand-in caller, no FreeSWITCH
    node.live_calls(); node.kill(); node.stop(signal.SIGTERM)   # its exit status

``freeswitch=fs`` sets ``freeswitch_vars_path`` to the FreeSWITCH instance's
``voicegate/vars.xml`` and ``freeswitch_esl_port``/``freeswitch_esl_password`` to its inbound
event socket (random password, as ``freeswitch_conf/install.py`` sets one): the node writes
vars.xml at start (its ESL port, the demo's fallback number) and runs ``reloadxml`` there itself,
as in production; :meth:`RealNode.start` checks that FreeSWITCH then has the node's values.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from models import Agent, Chat, PhoneNumber, TimeWindow, create_db_app, db
from tests.call_lab import ChatView, stored_chat
from tests.real_freeswitch import RealFreeSwitch, free_port

REPO = Path(__file__).resolve().parents[1]
VOICEGATE = [str(Path(sys.executable).with_name("voicegate"))]  # the console script operators run
DEMO_NUMBER = "4930123456"  # agents/demo.py


class NodeError(Exception):
    """The node did not start or a wait ran out."""


def pulled_models(target: Path) -> Path:
    """``voicegate models pull`` into a throw-away data folder; its ``models/`` folder."""
    done = subprocess.run([*VOICEGATE, "models", "pull", "--data", str(target)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=False)
    models = target / "models"
    if not (models / "faster-whisper" / "base" / "model.bin").is_file():
        raise NodeError(f"models pull gave no faster-whisper base model:\n{done.stdout}\n"
                        f"{done.stderr}")
    return models


@pytest.fixture(scope="module", name="fs")
def empfang_line_fs(freeswitch_tree, tmp_path_factory) -> Iterator[RealFreeSwitch]:
    """A real FreeSWITCH of the module's own (fixture ``fs``)."""
    instance = RealFreeSwitch.create(freeswitch_tree, tmp_path_factory.mktemp("fs"))
    instance.start()
    yield instance
    instance.kill()


@pytest.fixture(scope="module", name="node")
def empfang_line_node(fs, real_models, tmp_path_factory) -> Iterator[RealNode]:
    """``voicegate run`` behind ``fs``; its demo number always reaches Empfang (``node``)."""
    process = RealNode.create(tmp_path_factory.mktemp("node"), models=real_models, freeswitch=fs)
    process.always("Empfang")
    process.start()
    fs.set_vars(esl_hosts=[f"127.0.0.1:{process.esl_port}"])
    yield process
    process.stop()


@pytest.fixture(scope="session")
def real_models(tmp_path_factory) -> Path:
    """The real default models (faster-whisper base), pulled once per test session."""
    return pulled_models(tmp_path_factory.mktemp("pulled-models"))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)


@dataclass
class RealNode:
    data_dir: Path
    esl_port: int
    admin_port: int
    status_port: int
    freeswitch: RealFreeSwitch | None = None
    process: subprocess.Popen | None = None
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, data_dir: Path, *, models: Path | None = None,
               freeswitch: RealFreeSwitch | None = None,
               settings: Mapping[str, Any] | None = None,
               engines: Mapping[str, Any] | None = None,
               env: Mapping[str, str] | None = None) -> RealNode:
        """A data folder seeded with ``voicegate demo``, ``models`` linked in, and a
        ``voicegate.toml`` with free ports (``settings``/``engines``: more keys for it)."""
        data_dir.mkdir(parents=True, exist_ok=True)
        node = cls(data_dir=data_dir, esl_port=free_port(), admin_port=free_port(),
                   status_port=free_port(), freeswitch=freeswitch, env=dict(env or {}))
        low = 20000 + random.randrange(0, 49) * 200  # the node's unicast ports: 20000–29999
        values: dict[str, Any] = {
            "esl_port": node.esl_port, "admin_port": node.admin_port,
            "status_port": node.status_port, "rtp_port_min": low, "rtp_port_max": low + 199,
            "secret_key": "test-secret-key",
        }
        if freeswitch is not None:
            values["freeswitch_vars_path"] = str(freeswitch.vars_path)
            values["freeswitch_esl_port"] = freeswitch.esl_port
            values["freeswitch_esl_password"] = freeswitch.esl_password
        values.update(settings or {})
        lines = [f"{k} = {_toml_value(v)}" for k, v in values.items()]
        if engines:
            lines += ["", "[engines]", *(f"{k} = {_toml_value(v)}" for k, v in engines.items())]
        (data_dir / "voicegate.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        node._voicegate("demo")
        if models is not None and not (data_dir / "models").exists():
            (data_dir / "models").symlink_to(models, target_is_directory=True)
        return node

    # ------------------------------------------------------------------ process

    def _voicegate(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run([*VOICEGATE, *args, "--data", str(self.data_dir)], cwd=REPO,
                              capture_output=True, text=True, timeout=timeout, check=False,
                              env=self._env())
        if done.returncode != 0:
            raise NodeError(f"voicegate {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEGATE_")}
        env.update(self.env)
        return env

    @property
    def log_path(self) -> Path:
        return self.data_dir / "node.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 90.0) -> RealNode:
        """``voicegate run`` in its own process; returns once it prints that it runs and its
        status endpoint answers (engines loaded)."""
        if self.running:
            return self
        out = open(self.log_path, "ab")  # noqa: SIM115  (kept by the process)
        try:
            self.process = subprocess.Popen([*VOICEGATE, "run", "--data", str(self.data_dir)],
                                            cwd=REPO, env=self._env(), stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            out.close()
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise NodeError(f"voicegate run exited ({self.process.returncode}):\n"
                                + self.log_tail())
            if "KI-Voicegate läuft" in self.log_path.read_text("utf-8", "replace"):
                try:
                    self.status()
                    break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise NodeError("voicegate run not up in time:\n" + self.log_tail())
            time.sleep(0.1)
        if self.freeswitch is not None and self.freeswitch.running:
            self._check_vars_reloaded()
        return self

    def _check_vars_reloaded(self) -> None:
        """The node rewrote voicegate/vars.xml and ran reloadxml over the event socket: the
        FreeSWITCH now routes calls to this node (the file is only rewritten when it changed,
        so FreeSWITCH is asked, not the log)."""
        hosts = self.freeswitch.api("global_getvar voicegate_esl_hosts").strip()
        if f":{self.esl_port}" not in hosts:
            raise NodeError(f"FreeSWITCH's voicegate_esl_hosts is {hosts!r}, not this node's "
                            f"ESL port {self.esl_port}: reloadxml did not happen\n"
                            + self.log_tail(40))

    def stop(self, signum: int = signal.SIGINT, timeout: float = 30.0) -> int | None:
        """Ctrl-C (SIGINT) as an operator would, or ``systemctl stop``'s SIGTERM; SIGKILL if it
        does not end. Its exit status (None if it was not running)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        code, self.process = self.process.returncode, None
        return code

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def log_tail(self, lines: int = 80) -> str:
        try:
            text = self.log_path.read_text("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def call_log(self, call_uuid: str, lines: int = 60) -> str:
        """The node's log lines about one call (its UUID), the last ``lines`` of them."""
        try:
            text = self.log_path.read_text("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join([line for line in text.splitlines() if call_uuid in line][-lines:])

    def log_text(self) -> str:
        return self.log_path.read_text("utf-8", "replace")

    def test_call(self, *says: str, heard: Path | None = None, number: str = DEMO_NUMBER,
                  wait: bool = True) -> subprocess.CompletedProcess | subprocess.Popen:
        """``voicegate call``: the operator's test call through the FreeSWITCH stand-in, the
        caller saying ``says`` (espeak-ng); ``heard``: the agent's audio as a WAV file."""
        command = [*VOICEGATE, "call", number, "--data", str(self.data_dir), "--port",
                   str(self.esl_port), "--timeout", "90"]
        for text in says:
            command += ["--say", text]
        if heard is not None:
            command += ["--heard", str(heard)]
        if not wait:
            return subprocess.Popen(command, cwd=REPO, env=self._env(), text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return subprocess.run(command, cwd=REPO, env=self._env(), capture_output=True,
                              text=True, timeout=150, check=False)

    # ------------------------------------------------------------------ status

    def status(self) -> dict[str, Any]:
        """The controller's ``GET /status`` (live calls, engines)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.status_port}/status",
                                    timeout=5) as reply:
            return json.loads(reply.read())

    def live_calls(self) -> list:
        return list(self.status()["live_calls"] or [])

    # ------------------------------------------------------------------ database

    def db_app(self):
        return create_db_app(f"sqlite:///{(self.data_dir / 'voicegate.sqlite3').resolve()}")

    def configure(self, change: Callable[[Any], None]) -> None:
        """Run ``change(db.session)`` against the node's database and commit."""
        app = self.db_app()
        with app.app_context():
            try:
                change(db.session)
                db.session.commit()
            finally:
                db.session.remove()

    def always(self, agent_name: str, number: str = DEMO_NUMBER) -> None:
        """A top-priority window "immer" on ``number`` → ``agent_name`` (the demo's windows
        depend on the time of day)."""
        def change(session) -> None:
            agent = session.scalar(db.select(Agent).filter_by(name=agent_name))
            phone = session.scalar(db.select(PhoneNumber).filter_by(number=number))
            session.add(TimeWindow(phone_number_id=phone.id, agent_id=agent.id,
                                   name=f"Test: immer {agent_name}", kind="immer",
                                   category="regulaer", priority=100))
        self.configure(change)

    def chat(self, call_uuid: str) -> ChatView | None:
        return stored_chat(self.db_app(), call_uuid)

    def chats(self) -> list[str]:
        """Call UUIDs of every chat, oldest first."""
        app = self.db_app()
        with app.app_context():
            try:
                return list(db.session.scalars(db.select(Chat.call_uuid).order_by(Chat.id)))
            finally:
                db.session.remove()

    def wait_turn(self, call_uuid: str, match: Callable[[tuple[str, str, str, bool]], bool],
                  timeout: float = 30.0) -> ChatView:
        """The chat as soon as a stored turn ``(role, agent, text, interrupted)`` matches."""
        deadline = time.monotonic() + timeout
        while True:
            chat = self.chat(call_uuid)
            if chat is not None and any(match(turn) for turn in chat.turns):
                return chat
            if time.monotonic() > deadline:
                raise NodeError(f"no matching turn in chat {call_uuid} within {timeout} s: "
                                f"{chat}\n" + self.log_tail(40))
            time.sleep(0.05)

    def wait_chat(self, call_uuid: str, timeout: float = 30.0) -> ChatView:
        """The chat once the node has let go of the call (not live any more) and closed it
        (ended, no longer "In Arbeit")."""
        deadline = time.monotonic() + timeout
        while True:
            chat = self.chat(call_uuid)
            if chat is not None and chat.ended and chat.status != "in_arbeit" and \
                    not any(call_uuid in json.dumps(c) for c in self.live_calls()):
                return chat
            if time.monotonic() > deadline:
                raise NodeError(f"chat {call_uuid} not settled in {timeout} s: {chat}\n"
                                + self.call_log(call_uuid))
            time.sleep(0.1)
