"""Real-time pacing of outgoing agent audio: one sender thread for all calls.

FreeSWITCH writes each received unicast datagram straight to the channel without buffering
(ESL.md §3), so the controller must send one 20 ms frame every 20 ms. The sender runs in its
own OS thread, outside the gevent hub: database writes, VAD and a hundred callers' packets on
the hub then no longer delay a frame. It ticks four times per frame; a stream that starts
speaking takes the next of the four slots, so its first frame leaves within 5 ms.

Thread contract: the hub thread enqueues and clears; the sender thread pops and sends. Both
touch only ``deque`` operations and plain attributes (atomic in CPython); everything the hub
must learn (drained, frames sent) goes back through ``run_callback_threadsafe`` or a deque the
hub drains.

Lifecycle: whoever composes the process starts the sender (:meth:`Pacer.start`) and stops it
(:meth:`Pacer.stop`) — the node in ``voicegate/node.py``; between calls it sleeps on a lock,
not on a timer. The thread needs the GIL within a fraction of a frame: the node lowers the
switch interval where it starts (``Node.start``).
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable

import gevent
from gevent import monkey
from gevent.event import Event

from config.log_context import current_call

log = logging.getLogger(__name__)

FRAME_S = 0.020

# the real ones, even when the node runs monkey-patched
_socket = monkey.get_original("socket", "socket")
_AF_INET = monkey.get_original("socket", "AF_INET")
_SOCK_DGRAM = monkey.get_original("socket", "SOCK_DGRAM")
_sleep = monkey.get_original("time", "sleep")
_monotonic = monkey.get_original("time", "monotonic")
_start_thread = monkey.get_original("_thread", "start_new_thread")
_allocate_lock = monkey.get_original("_thread", "allocate_lock")


class OutgoingStream:
    """One call's agent audio: whole 20 ms frames, sent one per frame time to FreeSWITCH."""

    def __init__(self, address: tuple[str, int], frame_bytes: int,
                 on_first_frame: Callable[[float], None] | None = None):
        self.address = address
        self.frame_bytes = frame_bytes
        self._frames: collections.deque[tuple[bytes, object]] = collections.deque()
        self._on_first_frame = on_first_frame
        self._hub = gevent.get_hub()
        self._drained = Event()
        self._drained.set()
        self.sent: collections.deque[bytes] = collections.deque()  # for the recorder (hub)
        self.marks_sent: list[object] = []  # marks of frames that went out, oldest first
        self.slot: int | None = None  # which of the pacer's sub-ticks sends this stream
        self._first_pending = False
        self.call_uuid = current_call()  # the sender thread's lines about it carry it

    # ---------------------------------------------------------------- hub side
    def enqueue(self, pcm: bytes, mark: object = None) -> int:
        """Queue audio (cut into whole frames, the last one padded); returns frames queued."""
        n = self.frame_bytes
        if len(pcm) % n:
            pcm += b"\x00" * (n - len(pcm) % n)
        count = len(pcm) // n
        if count:
            self._drained.clear()
        for i in range(count):
            self._frames.append((pcm[i * n:(i + 1) * n], mark))
        return count

    def clear(self) -> int:
        """Drop everything not yet sent (barge-in); returns the frames dropped."""
        dropped = len(self._frames)
        self._frames.clear()
        self._drained.set()
        return dropped

    def arm_first_frame(self) -> None:
        """Report the next frame that goes out (latency measurement)."""
        self._first_pending = True

    @property
    def speaking(self) -> bool:
        return bool(self._frames)

    def wait_drained(self, timeout: float | None = None) -> bool:
        return self._drained.wait(timeout)

    def clear_from_sender(self) -> None:
        """Drop this stream's audio after a send failure (sender thread)."""
        self._frames.clear()
        self.slot = None
        self._hub.loop.run_callback_threadsafe(self._set_drained_if_empty)

    def _set_drained_if_empty(self) -> None:
        if not self._frames:
            self._drained.set()

    # ---------------------------------------------------------------- sender thread
    def log(self, level: int, msg: str, *args: object, exc_info: bool = False) -> None:
        """A log line of the sender thread about this stream, with its call's UUID."""
        log.log(level, msg, *args, exc_info=exc_info, extra={"call_uuid": self.call_uuid})

    def send_next(self, sock, now: float) -> None:
        try:
            frame, mark = self._frames.popleft()
        except IndexError:
            self.slot = None
            return
        try:
            sock.sendto(frame, self.address)
        except OSError as exc:  # FreeSWITCH gone; the session notices the hangup on its own
            self.log(logging.DEBUG, "unicast send to %s failed: %s", self.address, exc)
        self.sent.append(frame)
        if not self.marks_sent or self.marks_sent[-1] != mark:
            self.marks_sent.append(mark)
        if self._first_pending:
            self._first_pending = False
            if self._on_first_frame is not None:
                self._on_first_frame(now)
        if not self._frames:
            self.slot = None
            self._hub.loop.run_callback_threadsafe(self._set_drained_if_empty)


class Pacer:
    """Sends every active stream's next frame each 20 ms, on absolute deadlines (no drift).

    :meth:`start` starts the sender thread, :meth:`stop` ends it; streams added before the
    start wait for it."""

    SLOTS = 4

    def __init__(self, frame_s: float = FRAME_S):
        self.frame_s = frame_s
        self._streams: set[OutgoingStream] = set()
        self._lock = _allocate_lock()
        self._wake = _allocate_lock()  # held while nobody woke the idle sender
        self._wake.acquire()
        self._ended = _allocate_lock()  # held while the sender thread runs
        self._running = False
        self._idle = False  # the sender waits on ``_wake`` for a stream
        self._stopping = False
        self.late_ticks = 0
        # how late each tick woke (s), newest last: the send-side jitter of every stream
        self.lateness: collections.deque[float] = collections.deque(maxlen=50_000)

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        """Start the sender thread (once; again after :meth:`stop`)."""
        with self._lock:
            if self._running:
                return
            self._running, self._stopping, self._idle = True, False, False
            self._ended.acquire()
        _start_thread(self._run, ())

    def stop(self, timeout: float = 2.0) -> bool:
        """Drop every stream and end the sender thread; True once it has ended (it finishes
        the tick it is in, at most a few milliseconds)."""
        with self._lock:
            self._streams.clear()
            if not self._running:
                return True
            self._stopping = True
            self._wake_sender()
        if not self._ended.acquire(timeout=timeout):
            log.warning("audio sender thread did not end within %.1f s", timeout)
            return False
        self._ended.release()
        return True

    def add(self, stream: OutgoingStream) -> None:
        with self._lock:
            self._streams.add(stream)
            self._wake_sender()

    def remove(self, stream: OutgoingStream) -> None:
        stream.clear()
        with self._lock:
            self._streams.discard(stream)

    def _wake_sender(self) -> None:
        """Release an idle sender (under ``_lock``; one release per idle spell)."""
        if self._idle:
            self._idle = False
            self._wake.release()

    def _run(self) -> None:
        """The sender thread, from :meth:`start` to :meth:`stop`."""
        sock = _socket(_AF_INET, _SOCK_DGRAM)
        try:
            while self._wait_for_streams():
                self._send_loop(sock)
        except BaseException:
            log.exception("audio sender thread failed")
            raise
        finally:
            sock.close()
            with self._lock:
                self._running = False
                self._ended.release()

    def _wait_for_streams(self) -> bool:
        """Sleep until a stream is added; False when the pacer stops."""
        with self._lock:
            if self._stopping:
                return False
            if self._streams:
                return True
            self._idle = True
        self._wake.acquire()
        return not self._stopping

    def _send_loop(self, sock) -> None:
        """Ticks while any stream is there; returns when none is left (or on stop)."""
        period = self.frame_s / self.SLOTS
        deadline = _monotonic()
        tick = 0
        while True:
            with self._lock:
                if not self._streams or self._stopping:
                    return
                streams = list(self._streams)
            now = _monotonic()
            self.lateness.append(now - deadline)
            slot = tick % self.SLOTS
            for stream in streams:
                if stream.slot is None:
                    if not stream.speaking:
                        continue
                    stream.slot = slot
                if stream.slot == slot:
                    try:
                        stream.send_next(sock, now)
                    except Exception:  # one broken stream must not silence the others
                        stream.log(logging.ERROR, "sending agent audio to %s failed",
                                   stream.address, exc_info=True)
                        stream.clear_from_sender()
            tick += 1
            deadline += period
            delay = deadline - _monotonic()
            if delay < -self.frame_s:  # this thread was starved: skip ahead rather than burst
                self.late_ticks += 1
                deadline = _monotonic()
                delay = 0.0
            _sleep(max(0.0, delay))
