"""Commands the controller sends to FreeSWITCH: small frozen values that know their exact wire
form (``to_wire()``). FS takes header values verbatim (no URL decoding), so a value must not
contain a line break; a multi-line app argument travels as a ``text/plain`` body instead.

Import them from :mod:`esl_controller.protocol`, which re-exports everything here.
"""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Iterable
from dataclasses import dataclass, field


def new_uuid() -> str:
    return str(uuid_module.uuid4())


def _wire(line: str, headers: Iterable[tuple[str, str]] = (), body: bytes = b"") -> bytes:
    head = line + "\n" + "".join(f"{name}: {value}\n" for name, value in headers)
    for name, value in headers:
        if "\n" in value or "\r" in value or "\n" in name:
            raise ValueError(f"header {name!r} must not contain a line break")
    return head.encode("utf-8") + b"\n" + body


@dataclass(frozen=True)
class Connect:
    def to_wire(self) -> bytes:
        return b"connect\n\n"


@dataclass(frozen=True)
class MyEvents:
    fmt: str = "plain"

    def to_wire(self) -> bytes:
        return _wire(f"myevents {self.fmt}" if self.fmt else "myevents")


@dataclass(frozen=True)
class Linger:
    seconds: int | None = None

    def to_wire(self) -> bytes:
        return _wire("linger" if self.seconds is None else f"linger {int(self.seconds)}")


@dataclass(frozen=True)
class NoLinger:
    def to_wire(self) -> bytes:
        return b"nolinger\n\n"


@dataclass(frozen=True)
class Resume:
    def to_wire(self) -> bytes:
        return b"resume\n\n"


@dataclass(frozen=True)
class Exit:
    def to_wire(self) -> bytes:
        return b"exit\n\n"


@dataclass(frozen=True)
class EventSubscribe:
    fmt: str = "plain"
    names: tuple[str, ...] = ("ALL",)

    def to_wire(self) -> bytes:
        return _wire(" ".join(["event", self.fmt, *self.names]))


@dataclass(frozen=True)
class Filter:
    header: str
    value: str

    def to_wire(self) -> bytes:
        return _wire(f"filter {self.header} {self.value}")


@dataclass(frozen=True)
class GetVar:
    name: str

    def to_wire(self) -> bytes:
        return _wire(f"getvar {self.name}")


@dataclass(frozen=True)
class Api:
    command: str

    def to_wire(self) -> bytes:
        return _wire(f"api {self.command}")


@dataclass(frozen=True)
class BgApi:
    command: str
    job_uuid: str = field(default_factory=new_uuid)

    def to_wire(self) -> bytes:
        return _wire(f"bgapi {self.command}", [("Job-UUID", self.job_uuid)])


@dataclass(frozen=True)
class Execute:
    """``sendmsg`` / ``call-command: execute``. An argument with a line break travels as a
    ``text/plain`` body, because FS takes header values verbatim."""

    app: str
    arg: str = ""
    event_uuid: str = field(default_factory=new_uuid)
    event_lock: bool = True

    def to_wire(self) -> bytes:
        headers = [("call-command", "execute"), ("execute-app-name", self.app)]
        body = b""
        multiline = "\n" in self.arg or "\r" in self.arg
        if self.arg and not multiline:
            headers.append(("execute-app-arg", self.arg))
        if self.event_lock:
            headers.append(("event-lock", "true"))
        headers.append(("Event-UUID", self.event_uuid))
        if multiline:
            body = self.arg.encode("utf-8")
            headers += [("content-type", "text/plain"), ("content-length", str(len(body)))]
        return _wire("sendmsg", headers, body)


@dataclass(frozen=True)
class Unicast:
    local_ip: str
    local_port: int
    remote_ip: str
    remote_port: int
    transport: str = "udp"
    flags: str | None = None
    event_uuid: str = field(default_factory=new_uuid)

    def to_wire(self) -> bytes:
        headers = [("call-command", "unicast"), ("local-ip", self.local_ip),
                   ("local-port", str(self.local_port)), ("remote-ip", self.remote_ip),
                   ("remote-port", str(self.remote_port)), ("transport", self.transport)]
        if self.flags:
            headers.append(("flags", self.flags))
        headers.append(("Event-UUID", self.event_uuid))
        return _wire("sendmsg", headers)


@dataclass(frozen=True)
class Hangup:
    cause: str = "NORMAL_CLEARING"
    event_uuid: str = field(default_factory=new_uuid)

    def to_wire(self) -> bytes:
        return _wire("sendmsg", [("call-command", "hangup"), ("hangup-cause", self.cause),
                                 ("Event-UUID", self.event_uuid)])


CommandLike = (Connect | MyEvents | Linger | NoLinger | Resume | Exit | EventSubscribe | Filter
               | GetVar | Api | BgApi | Execute | Unicast | Hangup)
