"""The controller's small local HTTP endpoint for live status (the admin's system page asks it).

``GET /status`` → ``{"controller_up", "live_calls", "engines", "version"}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from gevent.pywsgi import WSGIServer

from .services import CallServices

log = logging.getLogger(__name__)


def status_payload(services: CallServices, version: str) -> dict[str, Any]:
    return {
        "controller_up": True,
        "version": version,
        "live_calls": services.live.snapshot(),
        "engines": {
            "ready": services.engines_ready,
            "stt": getattr(services.stt, "name", None),
            "llm": getattr(services.llm, "name", None),
            "tts": getattr(services.tts, "name", None),
            "problems": list(services.engine_problems),
        },
    }


def status_app(services: CallServices, version: str) -> Callable:
    def app(environ, start_response):
        if environ.get("PATH_INFO") != "/status" or environ.get("REQUEST_METHOD") != "GET":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        body = json.dumps(status_payload(services, version)).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    return app


def start_status_server(services: CallServices, host: str, port: int, *,
                        version: str) -> WSGIServer:
    """``version``: the node's, from its composition root (this layer does not import it)."""
    server = WSGIServer((host, port), status_app(services, version), log=None)
    server.start()
    log.info("controller status on http://%s:%s/status", host, server.server_port)
    return server
