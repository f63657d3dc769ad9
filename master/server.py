"""HTTPS server for the master: werkzeug's threaded WSGI server with the TLS handshake moved into
the worker thread.

werkzeug wraps the listening socket, so its accept loop performs every handshake itself: one slow
or hostile client stalls all others, and refused handshakes vanish without a log line. Here the
accept loop only accepts; each connection's thread does the handshake under a timeout and logs a
refusal (wrong CA, expired certificate) clearly. ``stop()`` also closes kept-alive connections,
so a stopped master is really gone for its nodes.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 30.0


class _QuietHandler(WSGIRequestHandler):
    """Request lines go to our logger at DEBUG (werkzeug logs every request at INFO)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s -> %s", self.command, getattr(self, "path", "?"), code)

    def log(self, type: str, message: str, *args: Any) -> None:
        getattr(log, "warning" if type == "error" else "debug")(message, *args)


class MasterServer(ThreadedWSGIServer):
    def __init__(self, host: str, port: int, app: Any, ssl_context: ssl.SSLContext) -> None:
        super().__init__(host, port, app, handler=_QuietHandler)
        self.ssl_context = ssl_context  # werkzeug reads it for wsgi.url_scheme
        self._tls_context = ssl_context
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_TIMEOUT_S)
        try:
            tls = self._tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.warning("TLS-Handshake mit %s abgelehnt: %s", client_address[0], exc)
            request.close()
            return
        tls.settimeout(IDLE_TIMEOUT_S)
        with self._open_lock:
            if self._stopping:
                tls.close()
                return
            self._open.add(tls)
        try:
            super().process_request_thread(tls, client_address)
        finally:
            with self._open_lock:
                self._open.discard(tls)
            tls.close()

    def start(self) -> MasterServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.1}, name="master-https",
            daemon=True,
        )
        self._thread.start()
        log.info("Master hört auf %s", self.url)
        return self

    def stop(self) -> None:
        """Stop accepting, drop every open connection, wait for the accept loop."""
        self.shutdown()
        with self._open_lock:
            self._stopping = True
            open_now = list(self._open)
        for conn in open_now:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.server_close()
        log.info("Master auf %s beendet", self.url)


def make_master_server(
    app: Any, host: str, port: int, ssl_context: ssl.SSLContext
) -> MasterServer:
    return MasterServer(host, port, app, ssl_context)
