"""A raw FreeSWITCH peer for bad-input tests: dials the controller, then sends exactly the bytes
a test asks for (truncated frames, lying Content-Length, garbage) and watches what comes back."""

from __future__ import annotations

from gevent import socket

from ..protocol import (
    Command,
    ConnectionClosed,
    EslTimeout,
    FrameReader,
    connect_reply,
    event_frame,
    new_uuid,
)
from .channel import Channel

GARBAGE = b"\x00\xff\xfe garbage without any header\n\xc3\x28: \n\n"


class RawFreeSwitch:
    """``with RawFreeSwitch(port=...) as fs: fs.expect("connect"); fs.send_connect_reply(); ...``"""

    def __init__(self, host: str = "127.0.0.1", port: int = 8084, *,
                 destination_number: str = "4930123456", caller_number: str = "491701234567",
                 uuid: str | None = None, timeout: float = 5.0):
        self.uuid = uuid or new_uuid()
        self.channel = Channel(uuid=self.uuid, destination_number=destination_number,
                               caller_number=caller_number, caller_name="", codec="PCMU",
                               rate=8000, socket_data=f"{host}:{port} async full")
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(None)
        self.reader = FrameReader(self.sock)
        self.commands: list[Command] = []

    def __enter__(self) -> RawFreeSwitch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading

    def read_command(self, timeout: float = 5.0) -> Command:
        cmd = self.reader.read_command(timeout=timeout)
        self.commands.append(cmd)
        return cmd

    def expect(self, name: str, timeout: float = 5.0) -> Command:
        """Read the next command and check its first word."""
        cmd = self.read_command(timeout)
        if cmd.name != name:
            raise AssertionError(f"expected {name!r}, controller sent {cmd.line!r}")
        return cmd

    def wait_closed(self, timeout: float = 5.0) -> bool:
        """True once the controller closed its end (commands sent meanwhile are collected)."""
        try:
            while True:
                self.read_command(timeout)
        except ConnectionClosed:
            return True
        except EslTimeout:
            return False

    # ------------------------------------------------------------------ writing

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_connect_reply(self) -> None:
        self.send(connect_reply(self.channel.connect_headers()))

    def event_bytes(self, name: str = "CHANNEL_ANSWER") -> bytes:
        return event_frame(self.channel.event(name))

    def send_truncated_event(self, keep: int = 40) -> None:
        """An event frame cut off ``keep`` bytes into its body, then the socket closes."""
        frame = self.event_bytes()
        header_end = frame.index(b"\n\n") + 2
        self.send(frame[:header_end + keep])
        self.close()

    def send_lying_content_length(self, claimed_extra: int = 500) -> None:
        """An event whose Content-Length claims ``claimed_extra`` more bytes than follow."""
        payload = self.event_bytes().split(b"\n\n", 1)[1]
        head = (f"Content-Length: {len(payload) + claimed_extra}\n"
                "Content-Type: text/event-plain\n\n").encode()
        self.send(head + payload)

    def send_garbage(self) -> None:
        self.send(GARBAGE)

    def send_bad_content_length(self, value: str = "-5") -> None:
        self.send(f"Content-Type: api/response\nContent-Length: {value}\n\n".encode())

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
