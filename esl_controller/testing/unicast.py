"""The stand-in's media: the caller's mouth and FS's side of the core ``unicast`` fork.

Like FS (ESL.md §3, measured on the real FreeSWITCH 1.11 in ../shared/freeswitch): it binds
``local-ip:local-port``; every 20 ms one caller frame (L16, host order, channel rate, no RTP
header) goes to ``remote-ip:remote-port`` — but only while the park loop is idle (no app
running); datagrams arriving on the local port from anyone are "written to the caller" (here:
recorded). While the caller says nothing, FS sends comfort-noise fill: 0xFF bytes (sample -1),
not zeros. An app that resets the session (``playback`` and the other file/bridge apps, not
``set`` or ``sleep``) tears the unicast down when it ends, and ``switch_ivr_park`` keeps a stale
pointer to that first connection: a unicast started again in the same socket session is created
and shut down 20 ms later, with no datagram either way. The caller's mouth runs on its own clock
from the moment the call exists: speech said while nothing forwards it is lost, as on a real
line.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

import gevent
import gevent.event
from gevent import socket

from .script import is_voiced

log = logging.getLogger(__name__)

FRAME_S = 0.02
FILL_BYTE = 0xFF
"""What FS sends for a frame without caller audio (``memset(decoded, 255, ...)`` for CNG)."""


class CallerMedia:
    """Caller audio clock + unicast sockets for one call."""

    def __init__(self, rate: int, *, on_agent_packet: Callable[[float, bytes], None]):
        self.rate = rate
        self.frame_bytes = rate // 50 * 2
        self.media_ready = False
        """Set at answer/pre-answer: before that no caller audio exists on the channel."""
        self.forwarding = True
        """False while a sendmsg app runs (the park loop does not read then)."""
        self.frames_sent = 0
        self.echo = False
        """The far end echoes what the agent sends (``echo`` on the other loopback leg)."""
        self.torn_down = False
        """A reset tore the first unicast down; the park loop's pointer to it is stale now."""
        self._silence = bytes([FILL_BYTE]) * self.frame_bytes
        self._dead: list[socket.socket] = []
        self._speech: deque[tuple[bytes, gevent.event.AsyncResult | None]] = deque()
        self._sock: socket.socket | None = None
        self._remote: tuple[str, int] | None = None
        self._on_agent_packet = on_agent_packet
        self._clock = gevent.spawn(self._run_clock)
        self._receiver: gevent.Greenlet | None = None
        self.last_voiced_at = 0.0
        self.voiced = gevent.event.Event()

    # ------------------------------------------------------------------ caller speech

    def say(self, pcm: bytes) -> gevent.event.AsyncResult:
        """Queue an utterance (L16 at the channel rate); the result is the monotonic time its
        last frame left the caller's mouth."""
        done = gevent.event.AsyncResult()
        frames = [pcm[i:i + self.frame_bytes] for i in range(0, len(pcm), self.frame_bytes)]
        if not frames:
            done.set(time.monotonic())
            return done
        frames[-1] = frames[-1].ljust(self.frame_bytes, b"\x00")
        for frame in frames[:-1]:
            self._speech.append((frame, None))
        self._speech.append((frames[-1], done))
        return done

    def _run_clock(self) -> None:
        next_at = time.monotonic()
        while True:
            if self._speech:
                frame, done = self._speech.popleft()
            else:
                frame, done = self._silence, None
            self._forward(frame)
            if done is not None:
                done.set(time.monotonic())
            next_at += FRAME_S
            delay = next_at - time.monotonic()
            if delay < -0.2:  # the process stalled: do not burst to catch up
                next_at = time.monotonic()
                delay = 0.0
            gevent.sleep(max(0.0, delay))

    def _forward(self, frame: bytes) -> None:
        if self._sock is None or self._remote is None or not self.forwarding:
            return
        if not self.media_ready:
            return
        try:
            self._sock.sendto(frame, self._remote)
            self.frames_sent += 1
        except OSError as exc:  # FS deactivates unicast on a sendto error
            log.info("stand-in unicast sendto failed, deactivating: %s", exc)
            self.reset()

    # ------------------------------------------------------------------ unicast

    def activate(self, local_ip: str, local_port: int, remote_ip: str,
                 remote_port: int) -> str | None:
        """``switch_ivr_activate_unicast`` + the park loop picking it up. Binds the local port
        (OSError if that fails). Returns a note when FS would not really use this one."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((local_ip, local_port))
        except OSError:
            sock.close()
            raise
        if self.torn_down:
            # the park loop still holds the first, closed connection: its sendto fails and
            # switch_ivr_deactivate_unicast shuts the new one down one frame later
            gevent.spawn_later(FRAME_S, sock.close)
            return ("unicast started again after an app tore the first one down: FS creates it "
                    "and shuts it down 20 ms later, no audio flows")
        if self._sock is not None:
            self._dead.append(sock)  # bound, but the park loop keeps feeding the first one
            return ("unicast started twice: FS keeps using the first one; datagrams to the "
                    f"second port {local_port} are ignored")
        self._sock = sock
        self._remote = (remote_ip, remote_port)
        self._receiver = gevent.spawn(self._receive, sock)
        return None

    def reset(self) -> None:
        """``switch_core_session_reset`` at the end of an app such as playback."""
        if self._sock is not None:
            self.torn_down = True
        self.deactivate()

    def deactivate(self) -> None:
        sock, self._sock, self._remote = self._sock, None, None
        if self._receiver is not None:
            self._receiver.kill(block=False)
            self._receiver = None
        if sock is not None:
            sock.close()
        dead, self._dead = self._dead, []
        for extra in dead:
            extra.close()

    def _receive(self, sock: socket.socket) -> None:
        while True:
            try:
                data, _ = sock.recvfrom(8192)
            except OSError:
                return
            now = time.monotonic()
            if is_voiced(data):
                self.last_voiced_at = now
                self.voiced.set()
            self._on_agent_packet(now, data)
            if self.echo:
                self._speech.append((data, None))

    def stop(self) -> None:
        self.deactivate()
        self._clock.kill(block=False)
        for _, done in self._speech:
            if done is not None and not done.ready():
                done.set(time.monotonic())
        self._speech.clear()
