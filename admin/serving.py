"""The admin's HTTP server: gevent's WSGIServer with TCP_NODELAY on every connection.

gevent's pywsgi sends the response headers and the body in two writes. With Nagle's algorithm
on, the body waits for the client's ACK of the headers, which browsers and HTTP clients delay
by about 40 ms on keep-alive connections — 40 ms added to every page (measured with
bench/bench_admin.py). TCP_NODELAY sends the body at once."""

from __future__ import annotations

import socket
from typing import Any

from gevent.pywsgi import WSGIServer


class AdminServer(WSGIServer):
    def handle(self, sock: socket.socket, address: Any) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # not a TCP socket (e.g. a Unix socket): nothing to tune
            pass
        super().handle(sock, address)


def make_admin_server(app: Any, host: str, port: int) -> AdminServer:
    return AdminServer((host, port), app, log=None)
