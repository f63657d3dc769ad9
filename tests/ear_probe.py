"""A caller whose mouth and ear are clocked: the caller's leg of a real FreeSWITCH call is put
under this probe's own outbound socket with ``unicast``, so every 20 ms frame the caller hears
arrives here with a wall-clock time, and every frame the caller says leaves from here on an
absolute 20 ms schedule.

Used to measure barge-in as the caller hears it (caller's first word → the agent's silence at
the caller's ear), through loopback or through a SIP leg (the carrier profile dials the
product's ``voicegate`` profile: real SIP, real RTP both ways). The caller's leg is the
originate a-leg, which runs ``socket`` to this probe::

    probe = EarProbe(speech, speak_after_s=1.2)      # listens on 127.0.0.1:<probe.port>
    fs.bgapi(f"originate {{...}}loopback/{number}/voicegate &socket(127.0.0.1:{probe.port})")
    result = probe.wait(30)                          # ProbeResult
    result.agent_silent_after_s                      # None: the agent never stopped

Plain threads and sockets (no gevent): the node under test may share the process.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from esl_controller.protocol import FrameReader
from media.engines import Audio

FRAME_S = 0.020
VOICED_PEAK = 500  # a 20 ms frame louder than this is audible speech or tone
SILENCE_GAP_S = 0.3  # the agent has stopped once nothing voiced arrived for this long


def _peak(frame: bytes) -> int:
    samples = np.frombuffer(frame[: len(frame) // 2 * 2], dtype="<i2").astype(np.int32)
    return int(np.abs(samples).max()) if samples.size else 0


@dataclass
class ProbeResult:
    """What the caller heard and when it spoke (``time.monotonic`` seconds)."""

    call_uuid: str = ""  # the caller leg's UUID
    heard: list[tuple[float, bool]] = field(default_factory=list)  # (arrival, voiced) per frame
    first_heard_at: float | None = None  # the greeting's first voiced frame
    mouth_at: float | None = None  # the caller's first voiced frame left
    mouth_end_at: float | None = None  # its last frame left
    mouth_last_voiced_at: float | None = None  # its last voiced frame left
    error: str = ""

    @property
    def agent_stopped_at(self) -> float | None:
        """Arrival of the last voiced frame of the agent audio that was playing when the caller
        began to speak (None: the agent was not speaking then, or never stopped)."""
        if self.mouth_at is None:
            return None
        voiced = [at for at, loud in self.heard if loud]
        before = [at for at in voiced if self.mouth_at - SILENCE_GAP_S < at <= self.mouth_at]
        if not before:
            return None
        last = before[-1]
        for at in voiced:
            if at <= last:
                continue
            if at - last > SILENCE_GAP_S:
                return last
            last = at
        heard_until = self.heard[-1][0] if self.heard else last
        return last if heard_until - last > SILENCE_GAP_S else None  # still talking at the end

    @property
    def agent_silent_after_s(self) -> float | None:
        """Caller's first word → the agent's last voiced frame at the caller's ear (s)."""
        stopped = self.agent_stopped_at
        return None if stopped is None else stopped - self.mouth_at

    @property
    def agent_answered_after_s(self) -> float | None:
        """Caller's last voiced frame → the first voiced agent frame after it at the caller's
        ear (s); None: nothing voiced came after the caller's speech."""
        said = self.mouth_last_voiced_at
        if said is None:
            return None
        return next((at - said for at, loud in self.heard if loud and at > said), None)

    def heard_voiced_s(self, start: float, end: float) -> float:
        return FRAME_S * sum(1 for at, loud in self.heard if loud and start <= at < end)


class EarProbe:
    """One probed caller (one call): an outbound-socket listener plus its unicast media."""

    def __init__(self, speech: Audio, *, speak_after_s: float = 1.2, hold_s: float = 1.5,
                 after_greeting_s: float | None = None, host: str = "127.0.0.1"):
        if speech.sample_rate != 8000:
            raise ValueError("the probe speaks 8 kHz L16 (PCMA/PCMU lines)")
        self.speech = speech
        self.speak_after_s = speak_after_s
        # set: speak once nothing voiced was heard for this long (the greeting ended; at least
        # SILENCE_GAP_S), instead of ``speak_after_s`` after the greeting's first frame
        self.after_greeting_s = after_greeting_s
        self.hold_s = hold_s  # after speaking, listen this long, then hang up
        self.host = host
        self.result = ProbeResult()
        self.done = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(1)
        self.port: int = self._listener.getsockname()[1]
        self._media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._media.bind((host, 0))
        self._media.settimeout(0.5)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="ear-probe", daemon=True)
        self._thread.start()

    def wait(self, timeout: float = 60.0) -> ProbeResult:
        """Until the caller's leg hung up (or ``timeout``); the result either way."""
        self.done.wait(timeout)
        self.close()
        return self.result

    def close(self) -> None:
        self._closed.set()
        for sock in (self._listener, self._media):
            try:
                sock.close()
            except OSError:
                pass

    # ------------------------------------------------------------------ the call
    def _serve(self) -> None:
        try:
            self._listener.settimeout(60)
            conn, _ = self._listener.accept()
        except OSError as exc:
            self.result.error = f"no call reached the probe: {exc}"
            self.done.set()
            return
        try:
            self._run_call(conn)
        except Exception as exc:  # reported in the result, the test shows it
            self.result.error = self.result.error or f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()
            self.done.set()

    def _run_call(self, conn: socket.socket) -> None:
        reader = FrameReader(conn)
        conn.sendall(b"connect\n\n")
        data = reader.read_frame()
        self.result.call_uuid = data.headers.get("Unique-ID", "")
        fs_port = _free_udp_port(self.host)
        my_port = self._media.getsockname()[1]
        conn.sendall((f"sendmsg\ncall-command: unicast\nlocal-ip: {self.host}\n"
                      f"local-port: {fs_port}\nremote-ip: {self.host}\nremote-port: {my_port}\n"
                      "transport: udp\n\n").encode())
        greeting = threading.Event()
        receiver = threading.Thread(target=self._receive, args=(greeting,), daemon=True)
        receiver.start()
        speaker = threading.Thread(target=self._speak, args=(greeting, (self.host, fs_port)),
                                   daemon=True)
        speaker.start()
        conn.settimeout(0.2)
        while not self._hangup_due():  # the socket also ends when the caller's leg is hung up
            try:
                if not conn.recv(65536):
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        self._closed.set()
        speaker.join(5)
        receiver.join(5)

    def _hangup_due(self) -> bool:
        ended = self.result.mouth_end_at
        return self._closed.is_set() or (ended is not None
                                         and time.monotonic() > ended + self.hold_s)

    def _receive(self, greeting: threading.Event) -> None:
        heard = self.result.heard
        while not self._closed.is_set():
            try:
                frame, _ = self._media.recvfrom(8192)
            except TimeoutError:
                continue
            except OSError:
                return
            now = time.monotonic()
            loud = _peak(frame) > VOICED_PEAK
            heard.append((now, loud))
            if loud and self.result.first_heard_at is None:
                self.result.first_heard_at = now
                greeting.set()

    def _speak(self, greeting: threading.Event, fs_address: tuple[str, int]) -> None:
        if not greeting.wait(30) or self._closed.is_set():
            self.result.error = self.result.error or "the caller never heard a greeting"
            return
        pcm = self.speech.pcm
        n = 320
        frames = [pcm[i:i + n].ljust(n, b"\x00") for i in range(0, len(pcm), n)]
        start = self.result.first_heard_at + self.speak_after_s
        if self.after_greeting_s is not None:
            start = self._greeting_end(max(SILENCE_GAP_S, self.after_greeting_s))
        for index, frame in enumerate(frames):
            deadline = start + index * FRAME_S
            delay = deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if self._closed.is_set():
                return
            self._media.sendto(frame, fs_address)
            if _peak(frame) > VOICED_PEAK:
                self.result.mouth_last_voiced_at = time.monotonic()
                if self.result.mouth_at is None:
                    self.result.mouth_at = self.result.mouth_last_voiced_at
        self.result.mouth_end_at = time.monotonic()


    def _greeting_end(self, quiet_s: float) -> float:
        """The moment ``quiet_s`` has passed since the last voiced frame heard (polled every
        frame; bounded by the call)."""
        while not self._closed.is_set():
            last = next((at for at, loud in reversed(self.result.heard) if loud), 0.0)
            if time.monotonic() - last >= quiet_s:
                return time.monotonic()
            time.sleep(FRAME_S)
        return time.monotonic()


def _free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]
