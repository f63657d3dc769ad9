"""The outbound event-socket server: FreeSWITCH's ``socket`` app connects here, one CallSession
per connection, each in its own greenlet."""

from __future__ import annotations

import logging

from gevent.event import Event
from gevent.server import StreamServer

from .connection import EslConnection
from .services import CallServices
from .session import CallSession

log = logging.getLogger(__name__)


class ControllerServer:
    def __init__(self, services: CallServices, host: str | None = None, port: int | None = None):
        self.services = services
        settings = services.settings
        self._server = StreamServer(
            (host or settings.esl_host, settings.esl_port if port is None else port),
            self._handle)
        self._active = 0
        self._sessions: set[CallSession] = set()
        self._idle = Event()
        self._idle.set()

    @property
    def address(self) -> tuple[str, int]:
        return self._server.address

    def start(self) -> None:
        self._server.start()
        log.info("ESL controller listening on %s:%s", *self.address)

    def stop(self, timeout: float = 5.0, reason: str = "Knoten wird beendet") -> None:
        """Stop accepting (FreeSWITCH's ``socket`` then fails over to the dialplan's fallback),
        hand calls still in a dialog to the fallback, and wait up to ``timeout`` for their
        chats to be stored."""
        self._server.close()
        for session in list(self._sessions):
            session.leave(reason)
        if not self.wait_idle(timeout):
            log.warning("%d calls still running after %.0f s; stopping anyway", self._active,
                        timeout)

    @property
    def active_calls(self) -> int:
        return self._active

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """True once no call session is running (each has stored its chat completely)."""
        return self._idle.wait(timeout)

    def _handle(self, sock, address) -> None:
        self._active += 1
        self._idle.clear()
        session: CallSession | None = None
        try:
            session = CallSession(EslConnection(sock), self.services)
            self._sessions.add(session)
            session.run()
        except Exception:
            log.exception("call session from %s crashed", address)
            sock.close()
        finally:
            self._sessions.discard(session)
            self._active -= 1
            if not self._active:
                self._idle.set()
