"""A real FreeSWITCH for tests, configured with the product's own ``freeswitch_conf/``.

The prebuilt FreeSWITCH 1.11 in ``third_party/freeswitch/`` (see its README) is unpacked once per
test session into a read-only tree; every :class:`RealFreeSwitch` instance gets its own config
and state directory (``FS_CONF``/``FS_STATE``) and its own free ports, so several can run at once.

Each instance's config is the tarball's minimal one plus ``freeswitch_conf.install.install`` —
exactly what an operator installs (vars include, event socket, the ``voicegate`` SIP profile with
the gateway ``carrier``, dialplan, voicemail box, German sounds). The gateway ``carrier`` points
at a second local SIP profile, ``carrier``, which plays the telephone network: its context
``carrier`` answers every number as "the human" (records in stereo what reaches it and says
:data:`HUMAN_SAYS`), except :data:`BUSY_NUMBER`, which is busy (486), so a failing fallback bridge
can be provoked.

Public API (kept small and stable; other test modules build on it)::

    fs = RealFreeSwitch.create(tmp_dir, esl_hosts=["127.0.0.1:8084"])   # configured, not started
    fs.start()                        # returns when inbound ESL ``status`` says "is ready"
    fs.api("show channels")           # one API command over inbound ESL, its text
    fs.channels()                     # ``show channels as json`` rows
    fs.wait_no_channels(timeout=10)
    fs.set_vars(fallback_number=..., esl_hosts=[...])   # rewrite voicegate/vars.xml + reloadxml
    with fs.events("CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE") as events:
        call = fs.call("4930123456", caller_audio)     # a loopback caller, see LoopbackCall
        events.wait(lambda e: e.uuid == call.uuid and e.name == "CHANNEL_HANGUP_COMPLETE", 30)
    call.wait_ended(60); heard = call.heard()          # what the caller heard (Audio, 8 kHz)
    fs.human_recordings(); fs.voicemail_messages()
    fs.kill(); fs.start()             # FreeSWITCH dying mid-call, and coming back
    fs.stop()

Fixtures (session-scoped tree, use from a conftest or import): :func:`freeswitch_tree`.
Caller audio: :func:`caller_speech` (espeak-ng, a chosen voice, 8 kHz) and
:func:`tests.speech.pause`/``concat``.

Where the call goes: ``fs.call(number)`` originates ``loopback/<number>/voicegate``. Its a-leg
is the caller (plays the audio, records what it hears); the b-leg runs the product's dialplan
context ``voicegate`` with ``destination_number`` = ``number`` and reaches the controller via
``socket ${voicegate_esl_hosts} async full``; the b-leg's UUID is the controller's call UUID
(``Chat.call_uuid``).
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tarfile
import threading
import time
import uuid as uuidlib
import wave
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from esl_controller.protocol import (
    EslError,
    Event,
    FrameReader,
    parse_frame_event,
)
from freeswitch_conf.install import Carrier, install
from freeswitch_conf.render import render_vars, write_vars
from media.audio import resample
from media.engines import Audio

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
TARBALL = REPO / "third_party" / "freeswitch" / "freeswitch-1.11.3-dev-bookworm-amd64.tar.xz"
RATE = 8000

HUMAN_SAYS = "Praxis Sommer, Rezeption, guten Tag. Wie kann ich helfen?"
"""What "the human" behind the carrier says on answering (espeak-ng, voice de+f3)."""
BUSY_NUMBER = "4930000486"
"""A number the carrier answers with 486 Busy Here: the bridge to it fails."""
HUMAN_HOLD_MS = 8000
"""How long the human stays on the line after speaking before hanging up."""
DOMAIN = "127.0.0.1"
VOICEMAIL_BOX = "voicegate"


class FreeSwitchError(Exception):
    """FreeSWITCH did not start, an API command failed, or a wait ran out."""


# ---------------------------------------------------------------------------- tree

def unpack_tree(dest: Path, tarball: Path = TARBALL) -> Path:
    """Unpack the prebuilt FreeSWITCH into ``dest`` (made read-only afterwards); returns it."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball, "r:xz") as archive:
        members = []
        for member in archive.getmembers():
            parts = member.name.split("/", 1)
            if len(parts) < 2 or not parts[1]:
                continue
            member.name = parts[1]
            members.append(member)
        archive.extractall(dest, members=members, filter="tar")
    for path in sorted(dest.rglob("*"), reverse=True):
        if path.is_file():
            path.chmod(path.stat().st_mode & 0o555)
    return dest


@pytest.fixture(scope="session")
def freeswitch_tree(tmp_path_factory) -> Path:
    """The unpacked, read-only FreeSWITCH tree, once per test session."""
    return unpack_tree(tmp_path_factory.mktemp("freeswitch-tree"))


# ---------------------------------------------------------------------------- ports

def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port on 127.0.0.1 free for TCP and UDP at the moment of asking."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if _bindable(port, socket.SOCK_STREAM) and _bindable(port, socket.SOCK_DGRAM):
            return port
    raise FreeSwitchError("no free port")


def _bindable(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def rtp_port_range(size: int = 400) -> tuple[int, int]:
    """A block of UDP ports in 30000–39999 (the node's unicast ranges lie elsewhere) whose ends
    are free now; random, so FreeSWITCH instances of parallel test runs rarely meet."""
    for _ in range(50):
        low = 30000 + random.randrange(0, (10000 - size) // 2) * 2
        if all(_bindable(p, socket.SOCK_DGRAM) for p in (low, low + 1, low + size - 2)):
            return low, low + size - 1
    raise FreeSwitchError("no free RTP port block")


# ---------------------------------------------------------------------------- inbound ESL

class InboundEsl:
    """One authenticated inbound event-socket connection (the project's own ESL parser)."""

    def __init__(self, port: int, password: str, *, timeout: float = 10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.reader = FrameReader(self.sock)
        self.lock = threading.Lock()
        first = self.reader.read_frame()
        if first.content_type != "auth/request":
            raise FreeSwitchError(f"expected auth/request, got {first.headers}")
        reply = self.command(f"auth {password}")
        if not reply.startswith("+OK"):
            raise FreeSwitchError(f"ESL auth refused: {reply}")

    def command(self, line: str) -> str:
        """Send one command, return its ``Reply-Text`` (events arriving meanwhile are an error
        here: use :class:`EventStream` for events)."""
        with self.lock:
            self.sock.sendall(line.encode() + b"\n\n")
            frame = self.reader.read_frame()
        return frame.headers.get("Reply-Text", "")

    def api(self, command: str, timeout: float | None = None) -> str:
        with self.lock:
            if timeout is not None:
                self.sock.settimeout(timeout)
            self.sock.sendall(f"api {command}\n\n".encode())
            frame = self.reader.read_frame()
            while frame.content_type != "api/response":
                frame = self.reader.read_frame()
        return frame.body.decode("utf-8", "replace")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class EventStream:
    """Events from one inbound connection, read by a background thread and kept in order.

    ``wait(predicate)`` returns the first event (since the stream opened, or since ``after``)
    that matches; nothing is lost between subscribing and waiting.
    """

    def __init__(self, esl: InboundEsl, names: Sequence[str]):
        self.esl = esl
        self.events: list[Event] = []
        self._cond = threading.Condition()
        self._closed = False
        esl.sock.settimeout(None)
        reply = esl.command("event plain " + " ".join(names or ["ALL"]))
        if not reply.startswith("+OK"):
            raise FreeSwitchError(f"event subscription refused: {reply}")
        self._thread = threading.Thread(target=self._read, name="fs-events", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while True:
                frame = self.esl.reader.read_frame()
                if frame.content_type.startswith("text/event-"):
                    event = parse_frame_event(frame)
                    with self._cond:
                        self.events.append(event)
                        self._cond.notify_all()
        except (EslError, OSError, ValueError):
            pass
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()

    def wait(self, predicate: Callable[[Event], bool], timeout: float = 30.0,
             after: int = 0) -> Event:
        """The first matching event at index ``after`` or later; ``FreeSwitchError`` on timeout
        (or when FreeSWITCH went away)."""
        deadline = time.monotonic() + timeout
        index = after
        with self._cond:
            while True:
                while index < len(self.events):
                    event = self.events[index]
                    index += 1
                    if predicate(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    raise FreeSwitchError(
                        f"no matching event within {timeout} s"
                        + (" (event socket closed)" if self._closed else ""))
                self._cond.wait(left)

    def matching(self, predicate: Callable[[Event], bool]) -> list[Event]:
        with self._cond:
            return [e for e in self.events if predicate(e)]

    def close(self) -> None:
        self.esl.close()
        self._thread.join(timeout=5)


def is_event(name: str, uuid: str | None = None, **headers: str) -> Callable[[Event], bool]:
    """Predicate: an event ``name`` (for channel ``uuid``) whose headers have these values
    (``Event_Subclass`` style: underscores in keys become dashes)."""
    wanted = {k.replace("_", "-"): v for k, v in headers.items()}

    def match(event: Event) -> bool:
        if event.name != name or (uuid is not None and event.uuid != uuid):
            return False
        return all(event.get(k) == v for k, v in wanted.items())
    return match


# ---------------------------------------------------------------------------- audio helpers

_speech_cache: dict[tuple[str, str, int], Audio] = {}


def caller_speech(text: str, voice: str = "de+klatt3", speed_wpm: int = 140) -> Audio:
    """``text`` spoken by espeak-ng (``voice``), 8 kHz, leading/trailing silence trimmed.

    The default voice and speed are the ones the real faster-whisper base model hears best at
    8 kHz (tried: de, de+m1, de+m3, de+m7, de+f3, de+klatt, de+klatt3 at 120–160 wpm): it gets
    "Ich möchte einen Termin.", "Es ist ein Notfall.", "Ich habe einen Notfall.", "Ich möchte
    eine Nachricht hinterlassen." and "Ich habe eine Frage zu meiner Rechnung." right; it does
    not get "geöffnet", "Öffnungszeiten", "Adresse" or "zurückrufen" from any espeak voice."""
    key = (text, voice, speed_wpm)
    if key not in _speech_cache:
        from media.tts.espeak import EspeakTTS

        spoken = EspeakTTS(voice=voice, speed_wpm=speed_wpm).synthesize(text)
        samples = np.frombuffer(spoken.pcm, dtype="<i2")
        loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 300)
        pcm = samples[loud[0]:loud[-1] + 1].tobytes() if loud.size else b""
        _speech_cache[key] = Audio(pcm=resample(pcm, spoken.sample_rate, RATE), sample_rate=RATE)
    return _speech_cache[key]


def write_wav(path: Path, audio: Audio) -> Path:
    """Mono 16-bit WAV (what mod_sndfile plays)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(audio.sample_rate)
        out.writeframes(audio.pcm)
    return path


@dataclass(frozen=True)
class StereoRecording:
    """A stereo ``record_session`` file: ``heard`` is what the recorded channel received (its
    read side, left), ``said`` what it sent (its write side, right)."""

    heard: Audio
    said: Audio


def read_stereo(path: Path) -> StereoRecording:
    with wave.open(str(path), "rb") as wav:
        rate, channels = wav.getframerate(), wav.getnchannels()
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    if channels == 1:
        mono = Audio(pcm=data.tobytes(), sample_rate=rate)
        return StereoRecording(heard=mono, said=Audio(pcm=b"", sample_rate=rate))
    frames = data[: data.size // 2 * 2].reshape(-1, 2)
    return StereoRecording(heard=Audio(pcm=frames[:, 0].copy().tobytes(), sample_rate=rate),
                           said=Audio(pcm=frames[:, 1].copy().tobytes(), sample_rate=rate))


def voiced_ms(audio: Audio, threshold: int = 500) -> int:
    """Milliseconds of 20 ms frames whose peak exceeds ``threshold`` (audible sound)."""
    n = audio.sample_rate // 50
    samples = np.frombuffer(audio.pcm, dtype="<i2").astype(np.int32)
    frames = samples[: samples.size // n * n].reshape(-1, n)
    return int((np.abs(frames).max(axis=1) > threshold).sum()) * 20 if frames.size else 0


# ---------------------------------------------------------------------------- the instance

@dataclass
class LoopbackCall:
    """A caller on a loopback a-leg: plays ``audio`` once answered, records what it hears."""

    fs: RealFreeSwitch
    uuid: str  # the caller's (a-leg) UUID
    number: str
    caller_number: str
    recording: Path
    job_uuid: str
    _b_uuid: str = ""

    @property
    def call_uuid(self) -> str:
        """The b-leg's UUID: the one the controller sees (``Chat.call_uuid``)."""
        if not self._b_uuid:
            event = self.fs.watch.wait(
                lambda e: e.name == "CHANNEL_CREATE"
                and e.get("variable_other_loopback_leg_uuid") == self.uuid
                and e.get("variable_loopback_leg") == "B", timeout=10)
            self._b_uuid = event.uuid
        return self._b_uuid

    def say(self, audio: Audio | Path) -> Path:
        """The caller says ``audio`` now (mixed into what it sends: ``uuid_displace … mux``,
        a media bug, so its own playback and recording go on)."""
        if isinstance(audio, Audio):
            audio = write_wav(self.recording.with_name(f"say-{uuidlib.uuid4()}.wav"), audio)
        reply = self.fs.api(f"uuid_displace {self.uuid} start {audio} 0 mux")
        if not reply.startswith("+OK"):
            raise FreeSwitchError(f"uuid_displace: {reply.strip()}")
        return audio

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """The caller hangs up."""
        self.fs.api(f"uuid_kill {self.uuid} {cause}")

    def alive(self) -> bool:
        return self.fs.api(f"uuid_exists {self.uuid}").strip() == "true"

    def wait_answered(self, timeout: float = 30.0) -> Event:
        """CHANNEL_ANSWER of the caller's leg (the loopback a-leg answers when the b-leg does)."""
        return self.fs.watch.wait(is_event("CHANNEL_ANSWER", self.uuid), timeout=timeout)

    def wait_ended(self, timeout: float = 60.0) -> Event:
        """CHANNEL_HANGUP_COMPLETE of the caller's leg (either side hung up); raises
        ``FreeSwitchError`` when the originate itself failed."""
        def done(event: Event) -> bool:
            if event.name == "BACKGROUND_JOB" and event.get("Job-UUID") == self.job_uuid:
                if not event.body.startswith(b"+OK"):
                    raise FreeSwitchError(f"originate failed: {event.body.decode().strip()}")
                return False
            return event.name == "CHANNEL_HANGUP_COMPLETE" and event.uuid == self.uuid
        return self.fs.watch.wait(done, timeout=timeout)

    def heard(self) -> Audio:
        """What the caller heard (after the call ended; 8 kHz mono)."""
        return self.stereo().heard

    def stereo(self) -> StereoRecording:
        """The caller's stereo recording (after :meth:`wait_ended`)."""
        self.fs.wait_recorded(self.recording)
        return read_stereo(self.recording)


WATCHED_EVENTS = ("CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CHANNEL_EXECUTE",
                  "CHANNEL_HANGUP_COMPLETE", "BACKGROUND_JOB", "RECORD_STOP", "DTMF")
"""What every instance's :attr:`RealFreeSwitch.watch` stream keeps, from start to stop."""


@dataclass
class RealFreeSwitch:
    """One FreeSWITCH process with the product's config; see the module docstring."""

    tree: Path
    home: Path  # this instance's directory: conf/, state/, sounds/, calls/
    esl_port: int
    esl_password: str
    sip_port: int  # the product's "voicegate" profile (where the carrier's INVITEs arrive)
    carrier_port: int  # the carrier stand-in profile
    rtp_range: tuple[int, int]
    process: subprocess.Popen | None = None
    watch: EventStream | None = None  # WATCHED_EVENTS since the last start
    _esl: InboundEsl | None = field(default=None, repr=False)
    _esl_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # ------------------------------------------------------------------ set-up

    @classmethod
    def create(cls, tree: Path, home: Path, *, esl_hosts: Sequence[str] = ("127.0.0.1:8084",),
               fallback_number: str = "4930123450", voicemail_box: str = VOICEMAIL_BOX
               ) -> RealFreeSwitch:
        """Configure an instance in ``home`` (not started): the tarball's conf, the product's
        ``freeswitch_conf`` installed into it, the carrier stand-in profile and its dialplan."""
        home.mkdir(parents=True, exist_ok=True)
        conf = home / "conf"
        if conf.exists():
            shutil.rmtree(conf)
        shutil.copytree(tree / "conf", conf)
        for path in [conf, *conf.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        fs = cls(tree=tree, home=home, esl_port=free_port(), esl_password=secrets.token_hex(8),
                 sip_port=free_port(), carrier_port=free_port(), rtp_range=rtp_port_range())
        _set_preprocess_var(conf / "vars.xml", "rtp_start_port", str(fs.rtp_range[0]))
        _set_preprocess_var(conf / "vars.xml", "rtp_end_port", str(fs.rtp_range[1]))
        _set_preprocess_var(conf / "vars.xml", "domain", DOMAIN)
        carrier = f"127.0.0.1:{fs.carrier_port}"
        install(conf, fs.sounds_dir,
                Carrier(realm=carrier, proxy=carrier, username="voicegate", password="test"),
                esl_password=fs.esl_password, esl_listen=("127.0.0.1", fs.esl_port),
                sip_ip="127.0.0.1", sip_port=fs.sip_port, fallback_number=fallback_number,
                voicemail_box=voicemail_box, esl_hosts=esl_hosts)
        fs._write_carrier()
        (home / "calls").mkdir(exist_ok=True)
        return fs

    @property
    def conf_dir(self) -> Path:
        return self.home / "conf"

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    @property
    def sounds_dir(self) -> Path:
        return self.home / "sounds"

    @property
    def vars_path(self) -> Path:
        """The node's ``voicegate/vars.xml`` (``Settings.freeswitch_vars_path``)."""
        return self.conf_dir / "voicegate" / "vars.xml"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "log" / "freeswitch.log"

    @property
    def voicemail_dir(self) -> Path:
        return self.state_dir / "storage" / "voicemail" / "default" / DOMAIN / VOICEMAIL_BOX

    @property
    def human_dir(self) -> Path:
        return self.home / "human"

    def _write_carrier(self) -> None:
        """The telephone network stand-in: a second SIP profile and its context."""
        self.human_dir.mkdir(parents=True, exist_ok=True)
        human_wav = self.home / "human_says.wav"
        try:
            write_wav(human_wav, caller_speech(HUMAN_SAYS, voice="de+f3"))
            says = str(human_wav)
        except Exception as exc:  # no espeak-ng: the human beeps instead
            log.warning("espeak-ng unavailable for the human's greeting: %s", exc)
            says = "tone_stream://%(800,200,600);loops=3"
        profile = f"""<include>
  <profile name="carrier">
    <settings>
      <param name="sip-ip" value="127.0.0.1"/>
      <param name="rtp-ip" value="127.0.0.1"/>
      <param name="ext-sip-ip" value="127.0.0.1"/>
      <param name="ext-rtp-ip" value="127.0.0.1"/>
      <param name="sip-port" value="{self.carrier_port}"/>
      <param name="context" value="carrier"/>
      <param name="dialplan" value="XML"/>
      <param name="auth-calls" value="false"/>
      <param name="accept-blind-reg" value="true"/>
      <param name="accept-blind-auth" value="true"/>
      <!-- a bridge offers only the calling leg's codec: L16 for a loopback caller -->
      <param name="inbound-codec-prefs" value="PCMA,PCMU,L16"/>
      <param name="outbound-codec-prefs" value="PCMA,PCMU"/>
      <param name="inbound-codec-negotiation" value="generous"/>
      <param name="apply-nat-acl" value=""/>
      <param name="local-network-acl" value="none"/>
      <param name="manage-presence" value="false"/>
      <param name="rtp-timer-name" value="soft"/>
      <param name="dtmf-type" value="rfc2833"/>
    </settings>
  </profile>
</include>
"""
        (self.conf_dir / "sip_profiles" / "zz_carrier_standin.xml").write_text(profile, "utf-8")
        record = f"{self.human_dir}/human-${{destination_number}}-${{uuid}}.wav"
        dialplan = f"""<include>
  <context name="carrier">
    <extension name="busy">
      <condition field="destination_number" expression="^\\+?{BUSY_NUMBER}$">
        <action application="respond" data="486 Busy Here"/>
      </condition>
    </extension>
    <extension name="the_human">
      <condition field="destination_number" expression="^(\\+?\\d+)$">
        <action application="answer"/>
        <action application="set" data="RECORD_STEREO=true"/>
        <action application="record_session" data="{record}"/>
        <action application="playback" data="{says}"/>
        <action application="playback" data="silence_stream://{HUMAN_HOLD_MS}"/>
        <action application="hangup" data="NORMAL_CLEARING"/>
      </condition>
    </extension>
  </context>
</include>
"""
        (self.conf_dir / "dialplan" / "zz_carrier_standin.xml").write_text(dialplan, "utf-8")

    def set_vars(self, *, fallback_number: str | None = None,
                 esl_hosts: Sequence[str] | None = None,
                 voicemail_box: str = VOICEMAIL_BOX) -> None:
        """Rewrite ``voicegate/vars.xml`` like the node does (``render_vars``) and reloadxml.
        ``None`` keeps the current value."""
        current = _read_preprocess_vars(self.vars_path)
        fallback = current.get("voicegate_fallback_number", "") if fallback_number is None \
            else fallback_number
        hosts = current.get("voicegate_esl_hosts", "127.0.0.1:8084").split("|") \
            if esl_hosts is None else list(esl_hosts)
        write_vars(self.vars_path, render_vars(fallback, voicemail_box, hosts))
        if self.running:
            self.reloadxml()

    def reloadxml(self) -> None:
        reply = self.api("reloadxml")
        if "+OK" not in reply:
            raise FreeSwitchError(f"reloadxml: {reply.strip()}")

    # ------------------------------------------------------------------ process

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 30.0) -> RealFreeSwitch:
        """Start FreeSWITCH (``bin/fs-run``); returns once ``status`` says it is ready and both
        SIP profiles run."""
        if self.running:
            return self
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, FS_CONF=str(self.conf_dir), FS_STATE=str(self.state_dir))
        out = open(self.state_dir / "stdout.log", "ab")  # noqa: SIM115  (kept by the process)
        try:
            # a second -sounds overrides fs-run's one: $${sounds_dir} is this instance's folder
            self.process = subprocess.Popen(
                [str(self.tree / "bin" / "fs-run"), "-sounds", str(self.sounds_dir)],
                env=env, cwd=self.home, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        finally:
            out.close()
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise FreeSwitchError(f"FreeSWITCH exited ({self.process.returncode}):\n"
                                      + self.log_tail())
            try:
                if "is ready" in self.api("status", timeout=2):
                    break
            except (OSError, EslError, FreeSwitchError):
                pass
            if time.monotonic() > deadline:
                raise FreeSwitchError("FreeSWITCH not ready in time:\n" + self.log_tail())
            time.sleep(0.05)
        self.wait_for(self._profiles_running, timeout=max(1.0, deadline - time.monotonic()),
                      what="SIP profiles voicegate and carrier")
        self.watch = EventStream(self.connect_esl(), WATCHED_EVENTS)
        # The gateway's first REGISTER reaches the carrier stand-in while this same FreeSWITCH
        # is still starting (503), and the retry would come 30 s later: register again now.
        self.api("sofia profile voicegate register carrier")
        self.wait_for(self.gateway_up, timeout=max(5.0, deadline - time.monotonic()),
                      what="gateway carrier REGED and UP",
                      detail=lambda: self.api("sofia status gateway carrier"))
        return self

    def gateway_up(self) -> bool:
        """The gateway ``carrier`` is registered and its ping says UP (calls can leave)."""
        status = self.api("sofia status gateway carrier")
        return bool(re.search(r"^State\s+REGED\b", status, re.M)
                    and re.search(r"^Status\s+UP\b", status, re.M))

    def _profiles_running(self) -> bool:
        status = self.api("sofia status")
        return all(re.search(rf"^\s*{name}\s+profile\s.*RUNNING", status, re.M)
                   for name in ("voicegate", "carrier"))

    def stop(self, timeout: float = 15.0) -> None:
        """Clean shutdown (SIGTERM; about 3–5 s), SIGKILL if it hangs."""
        self._drop_esl()
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def kill(self) -> None:
        """FreeSWITCH dies (SIGKILL): every socket to it breaks at once."""
        self._drop_esl()
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def restart(self) -> RealFreeSwitch:
        self.stop()
        return self.start()

    def log_tail(self, lines: int = 60) -> str:
        texts = []
        for path in (self.state_dir / "stdout.log", self.log_path):
            try:
                texts.append(f"--- {path}\n" + "\n".join(
                    path.read_text("utf-8", "replace").splitlines()[-lines:]))
            except OSError:
                pass
        return "\n".join(texts)

    # ------------------------------------------------------------------ ESL

    def connect_esl(self, timeout: float = 10.0) -> InboundEsl:
        """A new authenticated inbound connection (caller closes it)."""
        return InboundEsl(self.esl_port, self.esl_password, timeout=timeout)

    def api(self, command: str, timeout: float = 20.0) -> str:
        """Run one API command (``api <command>`` over inbound ESL); its output text."""
        with self._esl_lock:
            try:
                if self._esl is None:
                    self._esl = self.connect_esl(timeout=timeout)
                return self._esl.api(command, timeout=timeout)
            except (OSError, EslError):
                if self._esl is not None:
                    self._esl.close()
                self._esl = None
                raise

    def _drop_esl(self) -> None:
        if self.watch is not None:
            self.watch.close()
        with self._esl_lock:
            if self._esl is not None:
                self._esl.close()
            self._esl = None

    @contextmanager
    def events(self, *names: str) -> Iterator[EventStream]:
        """Subscribe to events (``CHANNEL_ANSWER``, ``CUSTOM vm::maintenance`` …; none: all)."""
        stream = EventStream(self.connect_esl(), names)
        try:
            yield stream
        finally:
            stream.close()

    def getvar(self, uuid: str, name: str) -> str:
        value = self.api(f"uuid_getvar {uuid} {name}").strip()
        return "" if value.startswith("-ERR") or value == "_undef_" else value

    def channels(self) -> list[dict]:
        """``show channels as json`` rows (uuid, name, state, dest, application …)."""
        text = self.api("show channels as json")
        try:
            return json.loads(text).get("rows", []) or []
        except ValueError as exc:
            raise FreeSwitchError(f"show channels: {text[:200]!r}") from exc

    def wait_no_channels(self, timeout: float = 15.0) -> None:
        """Until FreeSWITCH holds no channel at all."""
        self.wait_for(lambda: not self.channels(), timeout=timeout, what="no channels",
                      detail=lambda: json.dumps(self.channels(), indent=1)[:3000])

    def wait_for(self, condition: Callable[[], object], *, timeout: float, what: str,
                 interval: float = 0.05, detail: Callable[[], str] | None = None):
        """Poll ``condition`` (FreeSWITCH state has no event for it) until truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                extra = f"\n{detail()}" if detail else ""
                raise FreeSwitchError(f"timed out after {timeout} s waiting for {what}{extra}")
            time.sleep(interval)

    # ------------------------------------------------------------------ callers

    def call(self, number: str, audio: Audio | Path | None = None, *,
             caller_number: str = "491701234567", caller_name: str = "Testanrufer",
             variables: dict[str, str] | None = None, hold_ms: int | None = None
             ) -> LoopbackCall:
        """Place a loopback call to ``number`` in context ``voicegate`` (returns at once).

        Once answered, the caller records in stereo what it hears and says, plays ``audio``
        (a WAV path, or :class:`Audio` written to one; begin it with a pause to let the
        greeting play), then keeps listening: ``hold_ms`` more and then it hangs up, or with
        ``None`` until the other side hangs up (or :meth:`LoopbackCall.hangup`)."""
        a_uuid = str(uuidlib.uuid4())
        calls = self.home / "calls"
        recording = calls / f"caller-{a_uuid}.wav"
        apps = ["set:RECORD_STEREO=true", f"record_session:{recording}"]
        if isinstance(audio, Audio):
            audio = write_wav(calls / f"say-{a_uuid}.wav", audio)
        if audio is not None:
            apps.append(f"playback:{audio}")
        apps.append(f"playback:silence_stream://{-1 if hold_ms is None else int(hold_ms)}")
        apps.append("hangup:NORMAL_CLEARING")
        channel_vars = {"origination_uuid": a_uuid,
                        "origination_caller_id_number": caller_number,
                        "origination_caller_id_name": caller_name,
                        "ignore_early_media": "true", **(variables or {})}
        for path in (*apps,):
            if " " in path or "," in path.split(":", 1)[1]:
                raise ValueError(f"no spaces or commas in caller apps: {path!r}")
        dial = "{" + ",".join(f"{k}={v}" for k, v in channel_vars.items()) + "}"
        reply = self.bgapi(f"originate {dial}loopback/{number}/voicegate {','.join(apps)} inline")
        return LoopbackCall(fs=self, uuid=a_uuid, number=number, caller_number=caller_number,
                            recording=recording, job_uuid=reply)

    def bgapi(self, command: str) -> str:
        """``bgapi``: returns the Job-UUID at once (the result comes as BACKGROUND_JOB)."""
        with self._esl_lock:
            if self._esl is None:
                self._esl = self.connect_esl()
            reply = self._esl.command(f"bgapi {command}")
        if not reply.startswith("+OK"):
            raise FreeSwitchError(f"bgapi {command}: {reply}")
        return reply.split("Job-UUID: ")[-1].strip()

    # ------------------------------------------------------------------ what happened

    def wait_recorded(self, path: Path, timeout: float = 15.0) -> Path:
        """Until FreeSWITCH has closed the recording ``path`` (its RECORD_STOP event)."""
        self.watch.wait(lambda e: e.name == "RECORD_STOP"
                        and e.get("Record-File-Path") == str(path), timeout=timeout)
        return path

    def human_recordings(self, number: str | None = None) -> list[Path]:
        """The human's calls (to ``number``), oldest first: stereo files whose ``heard`` is what
        reached the human and ``said`` what the human said. Files still being written are not
        listed; :meth:`human_calls` waits for them."""
        pattern = f"human-{number}-*.wav" if number else "human-*.wav"
        done = {e.get("Record-File-Path") for e in self.watch.matching(is_event("RECORD_STOP"))}
        return sorted((p for p in self.human_dir.glob(pattern) if str(p) in done),
                      key=lambda p: p.stat().st_mtime)

    def human_calls(self, number: str | None = None, timeout: float = 15.0
                    ) -> list[StereoRecording]:
        """Every call the human answered (to ``number``), each once its recording is closed."""
        pattern = f"human-{number}-*.wav" if number else "human-*.wav"
        paths = sorted(self.human_dir.glob(pattern), key=lambda p: p.stat().st_mtime)
        return [read_stereo(self.wait_recorded(p, timeout)) for p in paths]

    def voicemail_messages(self) -> list[Path]:
        """Messages mod_voicemail stored in the box (``msg_*.wav``)."""
        return sorted(self.voicemail_dir.glob("msg_*"), key=lambda p: p.stat().st_mtime)

    def vm_list(self) -> str:
        """``vm_list`` of the box as mod_voicemail reports it."""
        return self.api(f"vm_list {VOICEMAIL_BOX}@{DOMAIN}")


def _set_preprocess_var(path: Path, name: str, value: str) -> None:
    text = path.read_text("utf-8")
    pattern = re.compile(rf'(<X-PRE-PROCESS cmd="set" data="{re.escape(name)}=)[^"]*(")')
    if not pattern.search(text):
        raise FreeSwitchError(f"{name} not in {path}")
    path.write_text(pattern.sub(lambda m: m.group(1) + value + m.group(2), text), "utf-8")


def _read_preprocess_vars(path: Path) -> dict[str, str]:
    found = re.findall(r'<X-PRE-PROCESS cmd="set" data="([^"=]+)=([^"]*)"', path.read_text("utf-8"))
    return dict(found)


def stop_all(instances: Iterable[RealFreeSwitch]) -> None:
    for fs in instances:
        try:
            fs.kill()
        except Exception:  # teardown: keep going
            log.exception("stopping FreeSWITCH in %s", fs.home)
