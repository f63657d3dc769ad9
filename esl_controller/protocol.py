"""FreeSWITCH event-socket wire format, both directions (see ``/work/shared/ESL.md``).

Everything here is pure byte-building and parsing except :class:`FrameReader`, the one thin
wrapper that pulls frames off a (gevent) socket. Both the controller and the FreeSWITCH
stand-in use this module, so there is exactly one ESL parser in the project.

FreeSWITCH -> controller frames are a header block (``Name: value`` lines ending in a blank
line) plus exactly ``Content-Length`` body bytes. Event bodies (``text/event-plain``) are a second
header block whose *values* are URL-encoded one by one (``switch_url_encode``); we decode each
value separately, never the whole block (greenswitch's mistake: an encoded ``%0A`` then splits a
header in two).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import gevent

from .commands import (  # noqa: F401  (re-exported: the one import place for ESL)
    Api,
    BgApi,
    CommandLike,
    Connect,
    EventSubscribe,
    Execute,
    Exit,
    Filter,
    GetVar,
    Hangup,
    Linger,
    MyEvents,
    NoLinger,
    Resume,
    Unicast,
    new_uuid,
)

MAX_CONTENT_LENGTH = 16 * 1024 * 1024
"""Largest body we accept (ESL.md §0: FS rejects bigger ones too)."""

MAX_HEADER_BLOCK = 10 * 1024 * 1024
"""FS's ``read_packet`` gives up on a header block this large; so do we."""

DISCONNECT_MESSAGE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

_URL_UNSAFE = frozenset(b'\r\n #%&+:;<=>?@[\\]^`{|}"')
_UPPER_HEX = b"0123456789ABCDEF"
_BLOCK_END = re.compile(rb"\n\r*\n")
_PERCENT = re.compile(rb"%([0-9A-Fa-f]{2})")


# ---------------------------------------------------------------------------- errors

class EslError(Exception):
    """Base class of everything the ESL layer raises."""


class ProtocolError(EslError):
    """The peer sent bytes that are not a valid ESL frame."""


class ConnectionClosed(EslError):
    """The socket is gone (EOF, reset, or closed by us)."""

    def __init__(self, message: str = "connection closed", *, truncated: bool = False):
        super().__init__(message)
        self.truncated = truncated


class EslTimeout(EslError):
    """A bounded wait ran out."""


# ---------------------------------------------------------------------------- encoding

def url_encode(value: str) -> str:
    """``switch_url_encode``: %XX (uppercase) for control bytes, non-ASCII bytes and the unsafe
    set; a ``%`` that already starts an uppercase ``%XX`` is kept (no double encoding)."""
    data = value.encode("utf-8")
    out = bytearray()
    n = len(data)
    for i, b in enumerate(data):
        if b == 0x25 and n - i > 2 and data[i + 1] in _UPPER_HEX and data[i + 2] in _UPPER_HEX:
            out.append(b)
        elif b < 0x20 or b > 0x7E or b in _URL_UNSAFE:
            out += b"%" + bytes((_UPPER_HEX[b >> 4], _UPPER_HEX[b & 0x0F]))
        else:
            out.append(b)
    return out.decode("ascii")


def url_decode(value: str) -> str:
    """``switch_url_decode`` for one header value: every ``%XX`` (any case) becomes its byte;
    ``+`` stays ``+``. Bytes that are not UTF-8 (a carrier's Latin-1 caller name) are replaced,
    not fatal: they are data, not framing."""
    raw = _PERCENT.sub(lambda m: bytes((int(m.group(1), 16),)), value.encode("utf-8"))
    return raw.decode("utf-8", errors="replace")


# ---------------------------------------------------------------------------- FS -> controller

def serialize_event_plain(headers: Iterable[tuple[str, str]], body: bytes | None = None) -> bytes:
    """``switch_event_serialize(..., encode=TRUE)``: the body of a ``text/event-plain`` frame."""
    lines = [f"{name}: {url_encode(value) or '_undef_'}\n" for name, value in headers]
    head = "".join(lines).encode("ascii")
    if body:
        return head + f"Content-Length: {len(body)}\n\n".encode("ascii") + body
    return head + b"\n"


def serialize_event_json(headers: Iterable[tuple[str, str]], body: bytes | None = None) -> bytes:
    """``switch_event_serialize_json``: one object of headers, the body under ``_body``."""
    obj: dict[str, Any] = {}
    for name, value in headers:
        obj[name] = value
    if body:
        obj["_body"] = body.decode("utf-8", errors="replace")
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def event_frame(headers: Iterable[tuple[str, str]], body: bytes | None = None, *,
                fmt: str = "plain") -> bytes:
    """A whole event as ``read_packet`` sends it: length first, then the type."""
    if fmt == "json":
        payload = serialize_event_json(headers, body)
    else:
        payload = serialize_event_plain(headers, body)
    return (f"Content-Length: {len(payload)}\nContent-Type: text/event-{fmt}\n\n".encode("ascii")
            + payload)


def command_reply(text: str, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """``Content-Type: command/reply`` with ``Reply-Text`` (raw, not encoded) and extra headers
    (``bgapi`` adds ``Job-UUID``)."""
    extra = "".join(f"{name}: {value}\n" for name, value in headers)
    return f"Content-Type: command/reply\nReply-Text: {text}\n{extra}\n".encode()


def api_response(text: str) -> bytes:
    """``api_exec``'s answer; empty output becomes ``-ERR no reply``."""
    body = (text or "-ERR no reply\n").encode("utf-8")
    return f"Content-Type: api/response\nContent-Length: {len(body)}\n\n".encode("ascii") + body


def disconnect_notice(uuid: str, linger: bool, channel_name: str = "",
                      linger_time: int = -1) -> bytes:
    """``send_disconnect`` (disposition ``disconnect``, fixed goodbye body) or the linger notice
    ``read_packet`` sends at hangup (``Channel-Name`` is *not* encoded there)."""
    if linger:
        return (f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {uuid}\n"
                f"Content-Disposition: linger\nChannel-Name: {channel_name}\n"
                f"Linger-Time: {linger_time}\nContent-Length: 0\n\n").encode()
    body = DISCONNECT_MESSAGE.encode("ascii")
    return (f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {uuid}\n"
            f"Content-Disposition: disconnect\nContent-Length: {len(body)}\n\n").encode() + body


def connect_reply(headers: Iterable[tuple[str, str]], *, socket_mode: str = "async",
                  control: str = "full") -> bytes:
    """The reply to ``connect``: a serialized CHANNEL_DATA event with the four reply headers at
    the bottom and *no* Content-Length. ``headers`` is the event (Event-Name ... variable_*)."""
    tail = [("Content-Type", "command/reply"), ("Reply-Text", "+OK\n"),
            ("Socket-Mode", socket_mode), ("Control", control)]
    return serialize_event_plain([*headers, *tail])


# ---------------------------------------------------------------------------- parsed frames

@dataclass(frozen=True)
class Frame:
    """One frame as read off the wire: raw (not decoded) header values and the body bytes."""

    headers: dict[str, str]
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


@dataclass(frozen=True)
class Event:
    """A FreeSWITCH event with every header value URL-decoded on its own.

    ``_undef_`` (how FS writes an empty value) reads back as ``""``.
    """

    headers: dict[str, str]
    body: bytes = b""

    @property
    def name(self) -> str:
        return self.headers.get("Event-Name", "")

    @property
    def uuid(self) -> str:
        return self.headers.get("Unique-ID", "")

    def get(self, header: str, default: str | None = None) -> str | None:
        return self.headers.get(header, default)

    def __contains__(self, header: str) -> bool:
        return header in self.headers


def event_from_headers(raw: Mapping[str, str], body: bytes = b"") -> Event:
    """Decode each raw (encoded) header value; used for event bodies and the connect reply."""
    headers = {}
    for name, value in raw.items():
        decoded = url_decode(value)
        headers[name] = "" if decoded == "_undef_" else decoded
    return Event(headers=headers, body=body)


def _split_header_line(line: str) -> tuple[str, str]:
    name, sep, value = line.partition(": ")
    if not sep:
        if line.endswith(":"):
            return line[:-1], ""
        raise ProtocolError(f"header line without ': ': {line[:80]!r}")
    return name, value


def _decode_block(block: bytes) -> str:
    try:
        return block.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"header block is not UTF-8: {exc}") from None


def _parse_header_block(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in _decode_block(block).split("\n"):
        line = line.rstrip("\r")
        if line:
            name, value = _split_header_line(line)
            headers[name] = value
    return headers


def _content_length(value: str | None) -> int:
    if value is None:
        return 0
    text = value.strip()
    if not text.isdigit():
        raise ProtocolError(f"bad Content-Length {value[:40]!r}")
    length = int(text)
    if length > MAX_CONTENT_LENGTH:
        raise ProtocolError(f"Content-Length {length} exceeds {MAX_CONTENT_LENGTH}")
    return length


def parse_event_plain(body: bytes) -> Event:
    """Parse the body of a ``text/event-plain`` frame (headers, optional inner body)."""
    match = _BLOCK_END.search(body)
    if match is None:
        block, rest = body, b""
    else:
        block, rest = body[:match.start() + 1], body[match.end():]
    raw = _parse_header_block(block)
    inner_length = raw.pop("Content-Length", None)
    inner = b""
    if inner_length is not None:
        length = _content_length(inner_length)
        if len(rest) < length:
            raise ProtocolError(f"event body has {len(rest)} of {length} bytes")
        inner = rest[:length]
    return event_from_headers(raw, inner)


def parse_event_json(body: bytes) -> Event:
    """Parse the body of a ``text/event-json`` frame (values are not URL-encoded there)."""
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"bad JSON event: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("JSON event is not an object")
    inner = str(obj.pop("_body", "")).encode("utf-8")
    return Event(headers={str(k): str(v) for k, v in obj.items()}, body=inner)


def parse_frame_event(frame: Frame) -> Event:
    """The event carried by an event frame (plain or json)."""
    if frame.content_type == "text/event-json":
        return parse_event_json(frame.body)
    if frame.content_type == "text/event-plain":
        return parse_event_plain(frame.body)
    raise ProtocolError(f"not an event frame: {frame.content_type!r}")


# ---------------------------------------------------------------------------- controller -> FS

class Headers(dict[str, str]):
    """Header map with case-insensitive lookup (FS matches command headers that way); keeps
    the names as sent. A repeated header keeps its last value here; ``Command.header_list`` has
    all of them."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()):
        super().__init__()
        self._lower: dict[str, str] = {}
        for name, value in items:
            self[name] = value

    def __setitem__(self, name: str, value: str) -> None:
        old = self._lower.get(name.lower())
        if old is not None and old != name:
            super().__delitem__(old)
        self._lower[name.lower()] = name
        super().__setitem__(name, value)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(self._lower.get(name.lower(), name))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._lower

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return self[name] if name in self else default


@dataclass(frozen=True)
class Command:
    """A command as FreeSWITCH's ``read_packet`` sees it: first line, headers, body."""

    line: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    header_list: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        """The first word of the command line, lower-cased (``sendmsg``, ``api`` ...)."""
        return self.line.split(" ", 1)[0].lower()

    @property
    def arg(self) -> str:
        """Everything after the first word of the command line."""
        parts = self.line.split(" ", 1)
        return parts[1] if len(parts) > 1 else ""


def _atoi(text: str) -> int:
    """C ``atoi``: leading whitespace, optional sign, digits; anything else ends the number."""
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else 0


def _parse_command_block(block: bytes) -> tuple[str, list[tuple[str, str]]]:
    text = block.decode("utf-8", errors="replace")
    lines = [line.rstrip("\r") for line in re.split(r"\r*\n", text)]
    line = lines[0]
    items = []
    for raw in lines[1:]:
        if not raw:
            continue
        name, sep, value = raw.partition(":")
        if sep:  # FS ignores a line without ':'
            items.append((name, value.lstrip(" ")))
    return line, items


def _command_body_length(items: list[tuple[str, str]]) -> int:
    for name, value in items:
        if name.lower() == "content-length":
            return max(0, min(_atoi(value), MAX_CONTENT_LENGTH))
    return 0


def parse_command(data: bytes) -> Command:
    """Parse one whole command (what the controller sends), the way FS does it: leading CR/LF
    skipped, header names matched case-insensitively, values taken verbatim (no URL decoding),
    then exactly Content-Length body bytes."""
    data = data.lstrip(b"\r\n")
    match = _BLOCK_END.search(data)
    if match is None:
        raise ProtocolError("command without a blank line")
    line, items = _parse_command_block(data[:match.start()])
    length = _command_body_length(items)
    body = data[match.end():match.end() + length]
    if len(body) < length:
        raise ProtocolError(f"command body has {len(body)} of {length} bytes")
    return Command(line=line, headers=Headers(items), body=body, header_list=tuple(items))


# ---------------------------------------------------------------------------- streaming reader

class FrameReader:
    """Reads frames (controller side) or commands (stand-in side) off a socket.

    Buffers internally, so a timeout never loses a half-read frame: the next call goes on where
    the last one stopped. One reader per socket, used by one greenlet at a time.
    """

    def __init__(self, sock: Any, *, chunk_size: int = 65536):
        self._sock = sock
        self._buf = bytearray()
        self._chunk = chunk_size
        self._eof = False

    def read_frame(self, timeout: float | None = None) -> Frame:
        """Next FS -> controller frame. Raises ``ConnectionClosed`` on EOF (``truncated`` when
        it cut a frame), ``ProtocolError`` on garbage, ``EslTimeout`` when ``timeout`` passes."""
        return self._read(self._try_frame, timeout)

    def read_command(self, timeout: float | None = None) -> Command:
        """Next controller -> FS command, parsed like FS's ``read_packet``."""
        return self._read(self._try_command, timeout)

    def _read(self, attempt: Any, timeout: float | None) -> Any:
        with gevent.Timeout(timeout, EslTimeout(f"no complete frame within {timeout} s")):
            while True:
                result = attempt()
                if result is not None:
                    return result
                if self._eof:
                    truncated = bool(self._buf.strip(b"\r\n"))
                    raise ConnectionClosed(
                        "connection closed mid-frame" if truncated else "connection closed",
                        truncated=truncated)
                self._fill()

    def _fill(self) -> None:
        try:
            data = self._sock.recv(self._chunk)
        except OSError as exc:
            self._eof = True
            if not self._buf:
                raise ConnectionClosed(f"connection lost: {exc}") from None
            return
        if not data:
            self._eof = True
        else:
            self._buf += data

    def _header_block(self) -> tuple[bytes, int] | None:
        """The complete header block at the front of the buffer and where the body starts."""
        match = _BLOCK_END.search(self._buf)
        if match is None:
            if len(self._buf) > MAX_HEADER_BLOCK:
                raise ProtocolError(f"no end of header block within {MAX_HEADER_BLOCK} bytes")
            return None
        return bytes(self._buf[:match.start() + 1]), match.end()

    def _try_frame(self) -> Frame | None:
        while self._buf[:1] == b"\n":  # tolerate stray blank lines between frames
            del self._buf[:1]
        found = self._header_block()
        if found is None:
            return None
        block, body_start = found
        headers = _parse_header_block(block)
        if "Content-Type" not in headers:
            raise ProtocolError(f"frame without Content-Type: {block[:120]!r}")
        length = _content_length(headers.get("Content-Length"))
        if len(self._buf) - body_start < length:
            return None
        body = bytes(self._buf[body_start:body_start + length])
        del self._buf[:body_start + length]
        return Frame(headers=headers, body=body)

    def _try_command(self) -> Command | None:
        while self._buf[:1] in (b"\r", b"\n"):
            del self._buf[:1]
        found = self._header_block()
        if found is None:
            return None
        block, body_start = found
        line, items = _parse_command_block(block[:-1])
        length = _command_body_length(items)
        if len(self._buf) - body_start < length:
            return None
        body = bytes(self._buf[body_start:body_start + length])
        del self._buf[:body_start + length]
        return Command(line=line, headers=Headers(items), body=body, header_list=tuple(items))


def iter_frames(data: bytes) -> Iterator[Frame]:
    """Split a byte string holding whole frames (tests, captures)."""

    class _Bytes:
        def __init__(self, payload: bytes):
            self._payload = payload

        def recv(self, n: int) -> bytes:
            chunk, self._payload = self._payload[:n], self._payload[n:]
            return chunk

    reader = FrameReader(_Bytes(data))
    while True:
        try:
            yield reader.read_frame()
        except ConnectionClosed as exc:
            if exc.truncated:
                raise
            return
