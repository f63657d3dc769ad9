"""One api command over FreeSWITCH's inbound event socket (``mod_event_socket``, the
``event_socket.conf.xml`` listener): connect, ``auth``, ``api ...``, close. Used by the node
to ``reloadxml`` after it rewrote ``voicegate/vars.xml``; every step is bounded, so a FreeSWITCH
that is down or hangs costs at most ``timeout`` seconds.
"""

from __future__ import annotations

import socket

from .protocol import Api, EslError, FrameReader


class InboundError(EslError):
    """FreeSWITCH refused the password or the command, or could not be reached."""


def inbound_api(command: str, *, host: str = "127.0.0.1", port: int = 8021,
                password: str = "ClueCon", timeout: float = 5.0) -> str:
    """The body of ``api <command>`` (e.g. ``+OK [Success]`` for ``reloadxml``)."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise InboundError(f"event socket {host}:{port} not reachable: {exc}") from None
    try:
        sock.settimeout(timeout)  # each recv is bounded, with or without gevent
        reader = FrameReader(sock)
        if reader.read_frame(timeout).content_type != "auth/request":
            raise InboundError(f"{host}:{port} is no FreeSWITCH event socket")
        sock.sendall(f"auth {password}\n\n".encode())
        reply = reader.read_frame(timeout).headers.get("Reply-Text", "")
        if not reply.startswith("+OK"):
            raise InboundError(f"event socket {host}:{port} refused the password: {reply}")
        sock.sendall(Api(command).to_wire())
        while True:  # skip anything that is not the api reply (no events are subscribed)
            frame = reader.read_frame(timeout)
            if frame.content_type == "api/response":
                return frame.body.decode("utf-8", "replace")
    except EslError as exc:
        if isinstance(exc, InboundError):
            raise
        raise InboundError(f"event socket {host}:{port}: {exc}") from None
    finally:
        sock.close()
