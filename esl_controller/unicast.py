"""The controller's end of FreeSWITCH's core ``unicast`` media fork (ESL.md §3).

FreeSWITCH binds ``local-ip:local-port`` (audio it receives there is written to the caller) and
sends the caller's audio, one raw L16 datagram per 20 ms, to ``remote-ip:remote-port`` — the
socket this class binds.
"""

from __future__ import annotations

import errno
import itertools
import logging
import threading
from collections.abc import Callable

import gevent
from gevent import socket

from config.log_context import in_this_context

log = logging.getLogger(__name__)


class PortAllocator:
    """Hands out UDP ports for FreeSWITCH's side of unicast, round robin over a range, skipping
    ports in use (FreeSWITCH binds them on the same host)."""

    def __init__(self, low: int, high: int, host: str = "127.0.0.1"):
        if not 1024 <= low <= high <= 65535:
            raise ValueError(f"invalid unicast port range {low}-{high}")
        self.host = host
        self._cycle = itertools.cycle(range(low, high + 1))
        self._size = high - low + 1
        self._in_use: set[int] = set()
        self._lock = threading.Lock()

    def acquire(self) -> int:
        with self._lock:
            for _ in range(self._size):
                port = next(self._cycle)
                if port in self._in_use or not _udp_port_free(self.host, port):
                    continue
                self._in_use.add(port)
                return port
        raise OSError(errno.EADDRINUSE, "no free unicast port left")

    def release(self, port: int) -> None:
        with self._lock:
            self._in_use.discard(port)


def _udp_port_free(host: str, port: int) -> bool:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        probe.close()


class UnicastEndpoint:
    """Receives the caller's audio (the agent's goes out through the pacer's sender)."""

    def __init__(self, host: str, freeswitch_port: int, on_caller_frame: Callable[[bytes], None]):
        self.host = host
        self.freeswitch_port = freeswitch_port
        self._on_caller_frame = on_caller_frame
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((host, 0))
        self.port: int = self._sock.getsockname()[1]
        self._reader: gevent.Greenlet | None = None

    def start(self) -> None:
        """Read in a greenlet of the call's context: what the frame handler logs has its UUID."""
        self._reader = gevent.spawn(in_this_context(self._read_loop))

    def _read_loop(self) -> None:
        freeswitch = (self.host, self.freeswitch_port)
        while True:
            try:
                data, sender = self._sock.recvfrom(8192)
            except OSError:
                return
            if sender != freeswitch:  # FreeSWITCH sends from the port it bound for us
                continue
            self._on_caller_frame(data)  # must not raise (CallAudio catches per frame)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.kill(block=False)
        self._sock.close()
