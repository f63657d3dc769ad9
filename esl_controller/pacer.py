"""Real-time pacing of outgoing agent audio: one ticker greenlet for all calls.

FreeSWITCH writes each received unicast datagram straight to the channel without buffering
(ESL.md §3), so the controller must send one 20 ms frame every 20 ms. One shared ticker keeps
the jitter low for a hundred calls, where a sleeping greenlet per call would drift.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable

import gevent
from gevent.event import Event

log = logging.getLogger(__name__)

FRAME_S = 0.020


class OutgoingStream:
    """One call's agent audio: whole 20 ms frames, sent one per tick to FreeSWITCH."""

    def __init__(self, send: Callable[[bytes], None], frame_bytes: int,
                 on_sent: Callable[[bytes, float], None] | None = None):
        self._send = send
        self._frames: collections.deque[tuple[bytes, object]] = collections.deque()
        self.frame_bytes = frame_bytes
        self._on_sent = on_sent
        self._drained = Event()
        self._drained.set()
        self.marks_sent: list[object] = []  # marks of frames that went out, oldest first
        self.frames_sent = 0
        self.closed = False

    def enqueue(self, pcm: bytes, mark: object = None) -> int:
        """Queue audio (cut into whole frames, the last one padded); returns frames queued."""
        n = self.frame_bytes
        if len(pcm) % n:
            pcm += b"\x00" * (n - len(pcm) % n)
        count = len(pcm) // n
        for i in range(count):
            self._frames.append((pcm[i * n:(i + 1) * n], mark))
        if count:
            self._drained.clear()
        return count

    def clear(self) -> int:
        """Drop everything not yet sent (barge-in); returns the frames dropped."""
        dropped = len(self._frames)
        self._frames.clear()
        self._drained.set()
        return dropped

    @property
    def speaking(self) -> bool:
        return bool(self._frames)

    def wait_drained(self, timeout: float | None = None) -> bool:
        return self._drained.wait(timeout)

    def tick(self, now: float) -> None:
        if not self._frames:
            return
        frame, mark = self._frames.popleft()
        try:
            self._send(frame)
        except OSError as exc:  # FreeSWITCH gone; the session notices the hangup on its own
            log.debug("unicast send failed: %s", exc)
        self.frames_sent += 1
        if not self.marks_sent or self.marks_sent[-1] is not mark:
            self.marks_sent.append(mark)
        if self._on_sent is not None:
            self._on_sent(frame, now)
        if not self._frames:
            self._drained.set()


class Pacer:
    """Ticks every 20 ms on absolute deadlines (no drift) and sends one frame per stream."""

    def __init__(self, frame_s: float = FRAME_S):
        self.frame_s = frame_s
        self._streams: set[OutgoingStream] = set()
        self._greenlet: gevent.Greenlet | None = None
        self.late_ticks = 0

    def add(self, stream: OutgoingStream) -> None:
        self._streams.add(stream)
        if self._greenlet is None or self._greenlet.dead:
            self._greenlet = gevent.spawn(self._run)

    def remove(self, stream: OutgoingStream) -> None:
        stream.closed = True
        stream.clear()
        self._streams.discard(stream)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()
            self._greenlet = None

    def _run(self) -> None:
        deadline = time.monotonic()
        while self._streams:
            now = time.monotonic()
            for stream in list(self._streams):
                stream.tick(now)
            deadline += self.frame_s
            delay = deadline - time.monotonic()
            if delay < -self.frame_s:  # the hub was blocked: skip ahead rather than burst
                self.late_ticks += 1
                deadline = time.monotonic()
                delay = 0.0
            gevent.sleep(max(0.0, delay))
