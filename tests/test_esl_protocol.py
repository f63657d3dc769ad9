"""ESL wire format: literal frames from ESL.md, URL encoding, the streaming reader on bad input,
and the controller connection against a raw peer."""

from __future__ import annotations

import logging

import gevent
import pytest
from gevent import socket

from config.log_context import CallUuidFilter
from esl_controller.connection import EslConnection
from esl_controller.protocol import (
    Api,
    BgApi,
    Connect,
    ConnectionClosed,
    EslTimeout,
    EventSubscribe,
    Execute,
    Exit,
    FrameReader,
    Hangup,
    Linger,
    MyEvents,
    ProtocolError,
    Resume,
    Unicast,
    api_response,
    command_reply,
    connect_reply,
    disconnect_notice,
    event_frame,
    iter_frames,
    parse_command,
    parse_event_plain,
    serialize_event_plain,
    url_decode,
    url_encode,
)
from esl_controller.testing import RawFreeSwitch

UUID = "4192e98c-e569-11e7-b747-73bec77e82ec"


# ---------------------------------------------------------------------------- url encoding

@pytest.mark.parametrize(("raw", "wire"), [
    ("+OK\n", "%2BOK%0A"),
    ("Müller", "M%C3%BCller"),
    ("sofia/internal/1000@192.168.1.146:5060", "sofia/internal/1000%40192.168.1.146%3A5060"),
    ("127.0.0.1:8084 async full", "127.0.0.1%3A8084%20async%20full"),
    ("FILE PLAYED", "FILE%20PLAYED"),
    ("#", "%23"),
    ("a&b=c;d?e", "a%26b%3Dc%3Bd%3Fe"),
    ('<{[|]}>"^`\\', "%3C%7B%5B%7C%5D%7D%3E%22%5E%60%5C"),
    ("~tilde_-.,!*'()$/", "~tilde_-.,!*'()$/"),
    ("\x7f\t\r", "%7F%09%0D"),
])
def test_url_encode_matches_switch_url_encode(raw: str, wire: str) -> None:
    assert url_encode(raw) == wire
    assert url_decode(wire) == raw


def test_url_encode_does_not_double_encode_an_uppercase_escape() -> None:
    assert url_encode("100%41") == "100%41"
    assert url_encode("already %C3%BC") == "already%20%C3%BC"
    # lowercase hex or a % too close to the end is not an escape for FS: it is encoded
    assert url_encode("%4a") == "%254a"
    assert url_encode("50%") == "50%25"
    assert url_encode("x%4") == "x%254"


def test_url_decode_keeps_plus_and_replaces_bad_utf8() -> None:
    assert url_decode("a+b") == "a+b"
    assert url_decode("%E4rger") == "\ufffdrger"  # Latin-1 from a carrier: data, not fatal


# ---------------------------------------------------------------------------- FS -> controller

def test_event_frame_counts_the_serialized_body() -> None:
    frame = event_frame([("Event-Name", "DTMF"), ("Unique-ID", UUID), ("DTMF-Digit", "#"),
                         ("Caller-Caller-ID-Name", "")])
    body = (b"Event-Name: DTMF\n"
            b"Unique-ID: 4192e98c-e569-11e7-b747-73bec77e82ec\n"
            b"DTMF-Digit: %23\n"
            b"Caller-Caller-ID-Name: _undef_\n"
            b"\n")
    assert frame == b"Content-Length: 113\nContent-Type: text/event-plain\n\n" + body
    assert len(body) == 113


def test_event_with_body_gets_an_inner_content_length() -> None:
    plain = serialize_event_plain([("Event-Name", "BACKGROUND_JOB"), ("Job-Command", "status")],
                                  b"+OK\n")
    assert plain == (b"Event-Name: BACKGROUND_JOB\nJob-Command: status\n"
                     b"Content-Length: 4\n\n+OK\n")


def test_connect_reply_is_an_encoded_channel_data_event_without_content_length() -> None:
    reply = connect_reply([("Event-Name", "CHANNEL_DATA"),
                           ("Channel-Name", "sofia/internal/1000@192.168.1.146:5060"),
                           ("variable_current_application_data", "127.0.0.1:8084 async full")])
    assert reply == (b"Event-Name: CHANNEL_DATA\n"
                     b"Channel-Name: sofia/internal/1000%40192.168.1.146%3A5060\n"
                     b"variable_current_application_data: 127.0.0.1%3A8084%20async%20full\n"
                     b"Content-Type: command/reply\n"
                     b"Reply-Text: %2BOK%0A\n"
                     b"Socket-Mode: async\n"
                     b"Control: full\n"
                     b"\n")


def test_command_reply_and_api_response_literals() -> None:
    assert command_reply("+OK Events Enabled") == (
        b"Content-Type: command/reply\nReply-Text: +OK Events Enabled\n\n")
    assert command_reply("+OK Job-UUID: 7f4d", [("Job-UUID", "7f4d")]) == (
        b"Content-Type: command/reply\nReply-Text: +OK Job-UUID: 7f4d\nJob-UUID: 7f4d\n\n")
    assert api_response("+OK\n") == b"Content-Type: api/response\nContent-Length: 4\n\n+OK\n"
    assert api_response("") == (
        b"Content-Type: api/response\nContent-Length: 14\n\n-ERR no reply\n")


def test_disconnect_notices_match_freeswitch() -> None:
    assert disconnect_notice(UUID, False) == (
        b"Content-Type: text/disconnect-notice\n"
        b"Controlled-Session-UUID: 4192e98c-e569-11e7-b747-73bec77e82ec\n"
        b"Content-Disposition: disconnect\n"
        b"Content-Length: 67\n\n"
        b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n")
    assert disconnect_notice(UUID, True, "sofia/internal/1000@1.2.3.4:5060", 30) == (
        b"Content-Type: text/disconnect-notice\n"
        b"Controlled-Session-UUID: 4192e98c-e569-11e7-b747-73bec77e82ec\n"
        b"Content-Disposition: linger\n"
        b"Channel-Name: sofia/internal/1000@1.2.3.4:5060\n"
        b"Linger-Time: 30\n"
        b"Content-Length: 0\n\n")


def test_parse_event_decodes_each_value_on_its_own() -> None:
    body = (b"Event-Name: CHANNEL_EXECUTE_COMPLETE\n"
            b"Caller-Caller-ID-Name: J%C3%BCrgen%20M%C3%BCller\n"
            b"Reply-Text: %2BOK%0ASecond-Line%3A%20not-a-header\n"
            b"variable_empty: _undef_\n"
            b"Application-Response: FILE%20PLAYED\n\n")
    event = parse_event_plain(body)
    assert event.name == "CHANNEL_EXECUTE_COMPLETE"
    assert event.get("Caller-Caller-ID-Name") == "Jürgen Müller"
    assert event.get("Reply-Text") == "+OK\nSecond-Line: not-a-header"
    assert "Second-Line" not in event
    assert event.get("variable_empty") == ""
    assert event.get("Application-Response") == "FILE PLAYED"


def test_parse_event_reads_the_inner_body() -> None:
    event = parse_event_plain(b"Event-Name: BACKGROUND_JOB\nJob-UUID: j1\n"
                              b"Content-Length: 4\n\n+OK\n")
    assert event.body == b"+OK\n"
    assert "Content-Length" not in event.headers
    with pytest.raises(ProtocolError):
        parse_event_plain(b"Event-Name: X\nContent-Length: 10\n\nshort")


# ---------------------------------------------------------------------------- controller -> FS

@pytest.mark.parametrize(("command", "wire"), [
    (Connect(), b"connect\n\n"),
    (MyEvents(), b"myevents plain\n\n"),
    (Linger(), b"linger\n\n"),
    (Linger(30), b"linger 30\n\n"),
    (Resume(), b"resume\n\n"),
    (Exit(), b"exit\n\n"),
    (EventSubscribe("plain", ("CHANNEL_ANSWER", "DTMF")), b"event plain CHANNEL_ANSWER DTMF\n\n"),
    (Api(f"uuid_kill {UUID}"), f"api uuid_kill {UUID}\n\n".encode()),
    (BgApi("status", job_uuid="7f4d"), b"bgapi status\nJob-UUID: 7f4d\n\n"),
    (Execute("playback", "/sounds/hello.wav", event_uuid="app-1"),
     b"sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
     b"execute-app-arg: /sounds/hello.wav\nevent-lock: true\nEvent-UUID: app-1\n\n"),
    (Execute("answer", event_uuid="app-2", event_lock=False),
     b"sendmsg\ncall-command: execute\nexecute-app-name: answer\nEvent-UUID: app-2\n\n"),
    (Unicast("127.0.0.1", 9000, "127.0.0.1", 9001, flags="native", event_uuid="u-1"),
     b"sendmsg\ncall-command: unicast\nlocal-ip: 127.0.0.1\nlocal-port: 9000\n"
     b"remote-ip: 127.0.0.1\nremote-port: 9001\ntransport: udp\nflags: native\n"
     b"Event-UUID: u-1\n\n"),
    (Unicast("127.0.0.1", 9000, "127.0.0.1", 9001, event_uuid="u-2"),
     b"sendmsg\ncall-command: unicast\nlocal-ip: 127.0.0.1\nlocal-port: 9000\n"
     b"remote-ip: 127.0.0.1\nremote-port: 9001\ntransport: udp\nEvent-UUID: u-2\n\n"),
    (Hangup(event_uuid="h-1"),
     b"sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING\nEvent-UUID: h-1\n\n"),
    (Hangup("USER_BUSY", event_uuid="h-2"),
     b"sendmsg\ncall-command: hangup\nhangup-cause: USER_BUSY\nEvent-UUID: h-2\n\n"),
])
def test_command_wire_form(command: object, wire: bytes) -> None:
    assert command.to_wire() == wire  # type: ignore[attr-defined]


def test_every_sendmsg_gets_a_fresh_event_uuid() -> None:
    first, second = Execute("answer"), Execute("answer")
    assert first.event_uuid != second.event_uuid
    assert parse_command(first.to_wire()).headers["Event-UUID"] == first.event_uuid


def test_multiline_execute_argument_travels_as_a_body() -> None:
    wire = Execute("set", "a=1\nb=2", event_uuid="x").to_wire()
    cmd = parse_command(wire)
    assert "execute-app-arg" not in cmd.headers
    assert cmd.headers["content-type"] == "text/plain"
    assert cmd.body == b"a=1\nb=2"


def test_parse_command_like_freeswitch() -> None:
    cmd = parse_command(b"\r\n\nsendmsg\r\nCall-Command: execute\nEXECUTE-APP-NAME:answer\n"
                        b"no colon line\nContent-Length: 3\n\nabcrest")
    assert cmd.line == "sendmsg"
    assert cmd.headers["call-command"] == "execute"
    assert cmd.headers["execute-app-name"] == "answer"
    assert cmd.body == b"abc"


# ---------------------------------------------------------------------------- streaming reader

@pytest.fixture
def pair():
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def test_reader_reassembles_frames_split_at_any_byte(pair) -> None:
    ours, theirs = pair
    data = (command_reply("+OK") + event_frame([("Event-Name", "CHANNEL_ANSWER")])
            + api_response("+OK\n"))

    def dribble() -> None:
        for i in range(len(data)):
            theirs.sendall(data[i:i + 1])
            if i % 7 == 0:
                gevent.sleep(0)
        theirs.close()

    gevent.spawn(dribble)
    reader = FrameReader(ours)
    types = [reader.read_frame(timeout=2).content_type for _ in range(3)]
    assert types == ["command/reply", "text/event-plain", "api/response"]
    with pytest.raises(ConnectionClosed) as closed:
        reader.read_frame(timeout=2)
    assert not closed.value.truncated


def test_reader_timeout_keeps_the_half_read_frame(pair) -> None:
    ours, theirs = pair
    frame = api_response("+OK accepted\n")
    theirs.sendall(frame[:30])
    reader = FrameReader(ours)
    with pytest.raises(EslTimeout):
        reader.read_frame(timeout=0.05)
    theirs.sendall(frame[30:])
    assert reader.read_frame(timeout=1).body == b"+OK accepted\n"


def test_truncated_frame_is_connection_closed(pair) -> None:
    ours, theirs = pair
    frame = event_frame([("Event-Name", "CHANNEL_ANSWER")])
    theirs.sendall(frame[:-5])
    theirs.close()
    with pytest.raises(ConnectionClosed) as closed:
        FrameReader(ours).read_frame(timeout=1)
    assert closed.value.truncated


@pytest.mark.parametrize("garbage", [
    b"just some text without a colon\n\n",
    b"Reply-Text: +OK\n\n",  # no Content-Type
    b"Content-Type: api/response\nContent-Length: -5\n\n",
    b"Content-Type: api/response\nContent-Length: 12abc\n\n",
    b"Content-Type: api/response\nContent-Length: 16777217\n\n",
    b"Content-Type: command/reply\nReply-Text: \xc3\x28\n\n",
])
def test_garbage_is_a_protocol_error(pair, garbage: bytes) -> None:
    ours, theirs = pair
    theirs.sendall(garbage)
    with pytest.raises(ProtocolError):
        FrameReader(ours).read_frame(timeout=1)


def test_iter_frames_splits_a_capture() -> None:
    capture = command_reply("+OK") + disconnect_notice(UUID, False)
    frames = list(iter_frames(capture))
    assert [f.content_type for f in frames] == ["command/reply", "text/disconnect-notice"]
    assert frames[1].body.startswith(b"Disconnected, goodbye.")


# ---------------------------------------------------------------------------- connection vs raw FS

class _Controller:
    """A listening socket on loopback; ``dial()`` connects a raw FS and returns both ends."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.connections: list[EslConnection] = []
        self.peers: list[RawFreeSwitch] = []

    def dial(self) -> tuple[RawFreeSwitch, EslConnection, gevent.Greenlet]:
        fs = RawFreeSwitch(port=self.port)
        self.peers.append(fs)
        sock, _ = self.server.accept()
        conn = EslConnection(sock, queue_events=10000)
        self.connections.append(conn)
        pending = gevent.spawn(conn.connect, 2.0)
        fs.expect("connect")
        fs.send_connect_reply()
        pending.get(timeout=2)
        return fs, conn, pending

    def close(self) -> None:
        for conn in self.connections:
            conn.close()
        for fs in self.peers:
            fs.close()
        self.server.close()


@pytest.fixture
def controller():
    ctl = _Controller()
    yield ctl
    ctl.close()


def test_connect_returns_decoded_channel_data(controller) -> None:
    fs, conn, pending = controller.dial()
    data = pending.value
    assert conn.uuid == fs.uuid
    assert data.get("variable_uuid") == fs.uuid
    assert data.get("Channel-Name") == "sofia/external/491701234567@127.0.0.1:5060"
    assert data.get("Reply-Text") == "+OK\n"
    assert data.get("Control") == "full"
    fs.close()


def test_replies_resolve_commands_in_order_and_api_only_by_api_response(controller) -> None:
    fs, conn, _ = controller.dial()
    first = gevent.spawn(conn.send, MyEvents())
    second = gevent.spawn(conn.api, "status")
    third = gevent.spawn(conn.send, Linger())
    for expected in ("myevents", "api", "linger"):
        fs.expect(expected)
    fs.send(command_reply("+OK Events Enabled"))
    fs.send(event_frame([("Event-Name", "CHANNEL_ANSWER"), ("Unique-ID", fs.uuid)]))
    fs.send(api_response("UP 0 years\n"))
    fs.send(command_reply("+OK will linger"))
    assert first.get(timeout=2).text == "+OK Events Enabled"
    assert second.get(timeout=2) == "UP 0 years\n"
    assert third.get(timeout=2).ok
    assert conn.events.get(timeout=1).name == "CHANNEL_ANSWER"
    fs.close()


def test_send_times_out_instead_of_waiting_forever(controller) -> None:
    fs, conn, _ = controller.dial()
    with pytest.raises(EslTimeout):
        conn.send(Resume(), timeout=0.1)
    fs.close()


def test_malformed_frame_is_logged_and_closes_cleanly(controller, caplog) -> None:
    fs, conn, _ = controller.dial()
    waiting = gevent.spawn(conn.send, MyEvents(), 5.0)
    fs.expect("myevents")
    caplog.handler.addFilter(CallUuidFilter())  # as the node's log handler has it
    with caplog.at_level(logging.ERROR, logger="esl_controller.connection"):
        fs.send_garbage()
        assert conn.wait_closed(2)
    with pytest.raises(ConnectionClosed):
        waiting.get(timeout=2)
    assert any(r.call_uuid == fs.uuid and "malformed" in r.getMessage()
               for r in caplog.records)
    assert fs.wait_closed(2)


def test_lying_content_length_then_close_ends_the_connection(controller) -> None:
    fs, conn, _ = controller.dial()
    fs.send_lying_content_length()
    assert not conn.wait_closed(0.2)  # still waiting for the promised bytes
    fs.close()
    assert conn.wait_closed(2)
    assert "mid-frame" in conn.close_reason


def test_truncated_event_ends_the_connection(controller) -> None:
    fs, conn, _ = controller.dial()
    fs.send_truncated_event()
    assert conn.wait_closed(2)
    with pytest.raises(ConnectionClosed):
        conn.send(MyEvents())


def test_unsolicited_reply_closes_the_connection(controller) -> None:
    fs, conn, _ = controller.dial()
    fs.send(command_reply("+OK"))
    assert conn.wait_closed(2)
    assert "unsolicited" in conn.close_reason
