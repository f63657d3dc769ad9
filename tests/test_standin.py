"""The FreeSWITCH stand-in against the real controller connection (and against greenswitch):
real TCP and UDP sockets on 127.0.0.1, behaviour as ESL.md describes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import gevent.queue
import numpy as np
import pytest
from gevent import socket
from gevent.server import StreamServer

from esl_controller.connection import EslConnection, HangupError
from esl_controller.protocol import (
    BgApi,
    EventSubscribe,
    Exit,
    Filter,
    GetVar,
    Hangup,
    Linger,
    MyEvents,
    Resume,
    Unicast,
)
from esl_controller.testing import (
    FreeSwitchStandIn,
    HangUp,
    Pause,
    Say,
    SendDtmf,
    WaitForAgentAudio,
    WaitForAgentSilence,
)
from media.engines import Audio

DEST = "4930123456"


class Controller:
    """Accepts the stand-in's connection and runs ``handler(conn)`` on it in a greenlet."""

    def __init__(self, handler: Callable[[EslConnection], Any]):
        self.handler = handler
        self.result = gevent.event.AsyncResult()
        self.server = StreamServer(("127.0.0.1", 0), self._handle)
        self.server.start()
        self.port = self.server.server_port

    def _handle(self, sock: socket.socket, _addr: Any) -> None:
        conn = EslConnection(sock, queue_events=10000)
        try:
            self.result.set(self.handler(conn))
        except BaseException as exc:  # re-raised in the test by value()
            self.result.set_exception(exc)
        finally:
            conn.close()

    def value(self, timeout: float = 5.0) -> Any:
        return self.result.get(timeout=timeout)

    def stop(self) -> None:
        self.server.stop(timeout=1)


@pytest.fixture
def serve():
    controllers: list[Controller] = []

    def start(handler: Callable[[EslConnection], Any]) -> Controller:
        ctl = Controller(handler)
        controllers.append(ctl)
        return ctl

    yield start
    for ctl in controllers:
        ctl.stop()


class UdpEar:
    """The controller's unicast receive socket: records every datagram with its arrival time."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.packets: list[tuple[float, bytes]] = []
        self.first = gevent.event.Event()
        self._greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        while True:
            data, _ = self.sock.recvfrom(8192)
            self.packets.append((time.monotonic(), data))
            self.first.set()

    def close(self) -> None:
        self._greenlet.kill()
        self.sock.close()

    def voiced(self) -> list[tuple[float, bytes]]:
        return [(t, d) for t, d in self.packets if np.abs(np.frombuffer(d, "<i2")).max() > 500]


def free_udp_port() -> int:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def tone(seconds: float, rate: int, freq: float = 440.0) -> Audio:
    t = np.arange(int(seconds * rate)) / rate
    samples = (8000 * np.sin(2 * np.pi * freq * t)).astype("<i2")
    return Audio(pcm=samples.tobytes(), sample_rate=rate)


def next_event(conn: EslConnection, name: str, timeout: float) -> Any:
    """The next event called ``name`` (others, like a CHANNEL_PARK that won the race with
    ``myevents``, are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        event = conn.events.get(timeout=max(0.0, deadline - time.monotonic()))
        if event.name == name:
            return event


def start_call(conn: EslConnection, *, linger: bool = True) -> None:
    conn.connect()
    assert conn.send(MyEvents()).ok
    if linger:
        assert conn.send(Linger()).ok


# ---------------------------------------------------------------------------- connect

def test_connect_reply_carries_the_call_url_encoded_and_then_nothing_unasked() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    fs = FreeSwitchStandIn(port=server.getsockname()[1], destination_number=DEST,
                           caller_name="Jürgen Müller", first_command_timeout=2)
    call = gevent.spawn(fs.run, [], timeout_s=5)
    sock, _ = server.accept()
    sock.settimeout(0.3)
    with pytest.raises(TimeoutError):
        sock.recv(1)  # FS speaks only after the controller's first command
    sock.sendall(b"connect\n\n")
    sock.settimeout(2)
    data = b""
    while not data.endswith(b"Control: full\n\n"):
        data += sock.recv(65536)
    assert data.startswith(b"Event-Name: CHANNEL_DATA\n")
    assert b"Content-Length" not in data
    assert b"\nCaller-Caller-ID-Name: J%C3%BCrgen%20M%C3%BCller\n" in data
    assert f"\nChannel-Destination-Number: {DEST}\n".encode() in data
    assert b"\nChannel-Name: sofia/external/491701234567%40127.0.0.1%3A5060\n" in data
    assert f"\nvariable_uuid: {fs.uuid}\n".encode() in data
    assert data.endswith(b"Content-Type: command/reply\nReply-Text: %2BOK%0A\n"
                         b"Socket-Mode: async\nControl: full\n\n")
    sock.close()
    record = call.get(timeout=5)
    server.close()
    assert record.connected and record.socket_returned and record.hangup_by is None


def test_controller_reads_the_channel_data_decoded(serve) -> None:
    ctl = serve(lambda conn: conn.connect())
    fs = FreeSwitchStandIn(port=ctl.port, destination_number=DEST, caller_number="491709999",
                           caller_name="Jürgen Müller")
    record = fs.run([], timeout_s=5)
    data = ctl.value()
    assert data.get("variable_uuid") == data.get("Unique-ID") == fs.uuid
    assert data.get("Caller-Caller-ID-Number") == "491709999"
    assert data.get("Caller-Caller-ID-Name") == "Jürgen Müller"
    assert data.get("Caller-Destination-Number") == DEST
    assert data.get("Channel-Read-Codec-Name") == "PCMU"
    assert data.get("Channel-Read-Codec-Rate") == "8000"
    assert data.get("variable_current_application_data") == f"127.0.0.1:{ctl.port} async full"
    assert data.get("Socket-Mode") == "async" and data.get("Control") == "full"
    # the controller left without transfer or hangup: FS would go on with the dialplan
    assert record.socket_returned and record.disconnect_sent and not record.errors


def test_reply_texts_follow_parse_command(serve) -> None:
    def handler(conn: EslConnection) -> dict[str, Any]:
        conn.connect()
        uuid = conn.uuid
        texts = [conn.send(cmd).text for cmd in (
            Linger(30), Linger(), b"nolinger\n\n", Resume(), GetVar("nope"),
            GetVar("continue_on_fail"), MyEvents(), MyEvents(), b"event plain\n\n",
            EventSubscribe("plain", ("BACKGROUND_JOB",)),
            b"bogus\n\n", b"sendmsg other-uuid\ncall-command: hangup\n\n")]
        api = [conn.api("nosuchcmd x"), conn.api(f"uuid_exists {uuid}"),
               conn.api("uuid_kill not-this-call")]
        bg = conn.send(BgApi(f"uuid_exists {uuid}", job_uuid="job-1"))
        job = next_event(conn, "BACKGROUND_JOB", timeout=2)
        # once a filter exists an event must match it: BACKGROUND_JOB has no Unique-ID
        texts.append(conn.send(Filter("Unique-ID", uuid)).text)
        conn.send(BgApi("uuid_exists x", job_uuid="job-2"))
        try:
            next_event(conn, "BACKGROUND_JOB", timeout=0.3)
            filtered_out = False
        except gevent.queue.Empty:
            filtered_out = True
        bye = conn.send(Exit())
        closed = conn.wait_closed(2)
        return {"uuid": uuid, "texts": texts, "api": api, "bg": bg, "job": job, "bye": bye,
                "closed": closed, "filtered_out": filtered_out}

    ctl = serve(handler)
    record = FreeSwitchStandIn(port=ctl.port, destination_number=DEST).run([], timeout_s=5)
    got = ctl.value()
    assert got["texts"] == [
        "+OK will linger 30 seconds", "+OK will linger", "+OK will not linger", "+OK",
        "-ERR command not found", "true", "+OK Events Enabled", "-ERR aready enabled.",
        "-ERR no keywords supplied", "+OK event listener enabled plain",
        "-ERR command not found", "-ERR invalid session id [other-uuid]",
        f"+OK filter added. [Unique-ID]=[{got['uuid']}]"]
    assert got["filtered_out"]
    assert got["api"] == ["-ERR nosuchcmd Command not found!\n", "true",
                          "-ERR No such channel!\n"]
    assert got["bg"].text == "+OK Job-UUID: job-1" and got["bg"].headers["Job-UUID"] == "job-1"
    assert got["job"].name == "BACKGROUND_JOB"
    assert got["job"].get("Job-Owner-UUID") == got["uuid"] and got["job"].body == b"true"
    assert got["bye"].text == "+OK bye" and got["closed"]
    assert record.socket_returned and record.disconnect_sent


# ---------------------------------------------------------------------------- execute

def test_execute_completes_by_application_uuid_with_channel_data(serve) -> None:
    def handler(conn: EslConnection) -> dict[str, Any]:
        seen: list[Any] = []
        conn.on_event(seen.append)
        start_call(conn, linger=False)
        answer = conn.execute("answer")
        missing = conn.execute("playback", "/no/such/file.wav")
        started = time.monotonic()
        played = conn.execute("playback", "silence_stream://200")
        took = time.monotonic() - started
        conn.send(Hangup("USER_BUSY"))
        closed = conn.wait_closed(2)
        return {"answer": answer, "missing": missing, "played": played, "took": took,
                "seen": seen, "closed": closed, "hangup": conn.hangup_event}

    ctl = serve(handler)
    record = FreeSwitchStandIn(port=ctl.port, destination_number=DEST).run([], timeout_s=5)
    got = ctl.value()
    sent_uuids = [c.headers["Event-UUID"] for c in record.commands if c.name == "sendmsg"]
    answer = got["answer"]
    assert answer.get("Application-UUID") == sent_uuids[0]
    assert answer.get("Application") == "answer"
    assert answer.get("Application-Response") == "_none_"
    assert answer.get("Answer-State") == "answered"
    assert answer.get("variable_current_application") == "answer"
    assert answer.get("Unique-ID") == record.uuid
    assert got["missing"].get("Application-Response") == "FILE NOT FOUND"
    assert got["played"].get("Application-Response") == "FILE PLAYED"
    assert 0.2 <= got["took"] < 1.0
    # CHANNEL_PARK comes first or not at all: it races with myevents, as in FS
    names = [e.name for e in got["seen"] if e.name != "CHANNEL_PARK"]
    assert names[:3] == ["CHANNEL_EXECUTE", "CHANNEL_ANSWER", "CHANNEL_EXECUTE_COMPLETE"]
    assert got["hangup"].get("Hangup-Cause") == "USER_BUSY" and got["closed"]
    assert record.answered and record.hangup_by == "controller"
    assert record.hangup_cause == "USER_BUSY"
    assert record.executed == [("answer", ""), ("playback", "/no/such/file.wav"),
                               ("playback", "silence_stream://200")]
    assert not record.errors


def test_unknown_app_and_sendmsg_without_event_uuid_are_flagged(serve) -> None:
    def handler(conn: EslConnection) -> bool:
        start_call(conn, linger=False)
        conn.send(b"sendmsg\ncall-command: execute\nexecute-app-name: frobnicate\n\n")
        return conn.wait_closed(2)

    ctl = serve(handler)
    record = FreeSwitchStandIn(port=ctl.port, destination_number=DEST).run([], timeout_s=5)
    assert ctl.value()
    assert record.hangup_cause == "DESTINATION_OUT_OF_ORDER"
    assert any("Event-UUID" in e for e in record.errors)
    assert any("frobnicate" in e for e in record.errors)


# ---------------------------------------------------------------------------- audio

def test_unicast_carries_caller_and_agent_audio_over_udp(serve) -> None:
    ear = UdpEar()
    fs_port = free_udp_port()
    agent = tone(0.5, 8000, freq=300).pcm
    agent_frames = [agent[i:i + 320] for i in range(0, len(agent), 320)]

    def handler(conn: EslConnection) -> None:
        start_call(conn)
        conn.execute("answer")
        assert conn.send(Unicast("127.0.0.1", fs_port, "127.0.0.1", ear.port)).ok
        # +OK comes at once; FS binds its port on the park loop's next tick: its first
        # datagram says it listens
        ear.first.wait(2)
        out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for frame in agent_frames:
            out.sendto(frame, ("127.0.0.1", fs_port))
            gevent.sleep(0.02)
        out.close()
        conn.hangup_notice.wait(5)

    ctl = serve(handler)
    fs = FreeSwitchStandIn(port=ctl.port, destination_number=DEST)
    record = fs.run([WaitForAgentAudio(timeout_s=3), WaitForAgentSilence(0.3, timeout_s=3),
                     Say(audio=tone(0.5, 16000)), Pause(0.2), HangUp()], timeout_s=10)
    ctl.value()
    ear.close()
    assert not record.errors
    assert record.unicast == {"local_ip": "127.0.0.1", "local_port": str(fs_port),
                              "remote_ip": "127.0.0.1", "remote_port": str(ear.port),
                              "transport": "udp", "flags": ""}
    assert record.agent_audio == agent
    assert [n for _, n in record.agent_packets] == [320] * len(agent_frames)
    assert {len(d) for _, d in ear.packets} == {320}  # 20 ms of L16 at 8 kHz
    voiced = ear.voiced()
    assert 23 <= len(voiced) <= 26  # 0.5 s said at 16 kHz arrives resampled to 8 kHz
    assert abs(voiced[-1][0] - record.caller_speech_ends[0]) < 0.1
    assert record.hangup_by == "caller"


def test_wideband_channel_uses_640_byte_frames_at_16_khz(serve) -> None:
    ear = UdpEar()

    def handler(conn: EslConnection) -> str | None:
        data = conn.connect()
        conn.send(MyEvents())
        conn.execute("answer")
        conn.send(Unicast("127.0.0.1", free_udp_port(), "127.0.0.1", ear.port))
        gevent.sleep(0.2)
        conn.send(Hangup())
        return data.get("Channel-Read-Codec-Rate")

    ctl = serve(handler)
    FreeSwitchStandIn(port=ctl.port, destination_number=DEST, codec="G722",
                      rate=16000).run([], timeout_s=5)
    assert ctl.value() == "16000"
    ear.close()
    assert ear.packets and {len(d) for _, d in ear.packets} == {640}


def test_linger_unsupported_gets_command_not_found(serve) -> None:
    def handler(conn: EslConnection) -> str:
        conn.connect()
        return conn.send(Linger()).text

    ctl = serve(handler)
    FreeSwitchStandIn(port=ctl.port, destination_number=DEST,
                      linger_supported=False).run([], timeout_s=5)
    assert ctl.value() == "-ERR command not found"


@pytest.mark.slow
def test_say_text_is_german_espeak_speech_heard_by_the_controller(serve) -> None:
    ear = UdpEar()

    def handler(conn: EslConnection) -> None:
        start_call(conn, linger=False)
        conn.execute("answer")
        conn.send(Unicast("127.0.0.1", free_udp_port(), "127.0.0.1", ear.port))
        conn.wait_closed(10)

    ctl = serve(handler)
    record = FreeSwitchStandIn(port=ctl.port, destination_number=DEST).run(
        [Pause(0.2), Say(text="Guten Tag, ich hätte gern einen Termin."), HangUp()],
        timeout_s=15)
    ctl.value()
    ear.close()
    speech_s = len(ear.voiced()) * 0.02
    assert 1.0 < speech_s < 5.0
    assert len(record.caller_speech_ends) == 1 and not record.errors


def test_caller_speech_while_an_app_runs_is_not_forwarded(serve) -> None:
    ear = UdpEar()

    def handler(conn: EslConnection) -> None:
        start_call(conn, linger=False)
        conn.execute("answer")
        conn.send(Unicast("127.0.0.1", free_udp_port(), "127.0.0.1", ear.port))
        with pytest.raises(HangupError):  # the caller hangs up while it plays
            conn.execute("playback", "silence_stream://5000")
        conn.wait_closed(5)

    ctl = serve(handler)
    record = FreeSwitchStandIn(port=ctl.port, destination_number=DEST).run(
        [Pause(0.3), Say(audio=tone(0.4, 8000)), Pause(0.3), HangUp()], timeout_s=10)
    ctl.value()
    ear.close()
    assert record.caller_speech_ends and not ear.voiced()


# ---------------------------------------------------------------------------- hangups

def test_caller_hangup_fails_a_pending_execute_and_lingers(serve) -> None:
    def handler(conn: EslConnection) -> dict[str, Any]:
        start_call(conn)
        conn.execute("answer")
        with pytest.raises(HangupError):
            conn.execute("playback", "silence_stream://10000")
        lingering = conn.hangup_notice.wait(2)
        still_open = not conn.closed.is_set()
        names = []
        while not conn.events.empty():
            names.append(conn.events.get().name)
        return {"lingering": lingering, "open": still_open, "names": names,
                "cause": conn.hangup_event.get("Hangup-Cause")}

    ctl = serve(handler)
    record = FreeSwitchStandIn(port=ctl.port, destination_number=DEST).run(
        [Pause(0.3), HangUp()], timeout_s=5)
    got = ctl.value()
    assert got["lingering"] and got["open"] and got["cause"] == "NORMAL_CLEARING"
    assert record.hangup_by == "caller" and record.hangup_cause == "NORMAL_CLEARING"
    # the real FreeSWITCH's order; the linger notice comes after HANGUP_COMPLETE
    assert record.events_sent[-7:] == [
        "CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_UNPARK",
        "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_STATE", "CHANNEL_STATE", "CHANNEL_HANGUP_COMPLETE"]
    assert not record.errors


def test_caller_hangup_without_linger_closes_the_socket(serve) -> None:
    def handler(conn: EslConnection) -> tuple[bool, bool]:
        start_call(conn, linger=False)
        conn.execute("answer")
        return conn.wait_closed(3), conn.hangup_notice.is_set()

    ctl = serve(handler)
    record = FreeSwitchStandIn(port=ctl.port, destination_number=DEST).run(
        [Pause(0.2), HangUp()], timeout_s=5)
    assert ctl.value() == (True, False)
    assert record.disconnect_sent and record.hangup_by == "caller"


def test_dtmf_reaches_the_controller_decoded(serve) -> None:
    def handler(conn: EslConnection) -> Any:
        start_call(conn, linger=False)
        conn.execute("answer")
        while True:
            event = conn.events.get(timeout=3)
            if event.name == "DTMF":
                conn.send(Hangup())
                return event

    ctl = serve(handler)
    FreeSwitchStandIn(port=ctl.port, destination_number=DEST).run(
        [Pause(0.2), SendDtmf("#")], timeout_s=5)
    event = ctl.value()
    assert event.get("DTMF-Digit") == "#" and event.get("DTMF-Source") == "RTP"
    assert not any(name.startswith("variable_") for name in event.headers)


# ---------------------------------------------------------------------------- transfer

def test_transfer_ends_unicast_and_keeps_the_socket_until_the_far_end_hangs_up(serve) -> None:
    ear = UdpEar()

    def handler(conn: EslConnection) -> dict[str, Any]:
        start_call(conn)
        conn.execute("answer")
        conn.send(Unicast("127.0.0.1", free_udp_port(), "127.0.0.1", ear.port))
        gevent.sleep(0.2)
        done = conn.execute("transfer", "1000 XML default")
        transferred_at = time.monotonic()
        lingering = conn.hangup_notice.wait(3)
        return {"done": done, "at": transferred_at, "lingering": lingering}

    ctl = serve(handler)
    record = FreeSwitchStandIn(port=ctl.port, destination_number=DEST,
                               far_end_talk_s=0.3).run([], timeout_s=5)
    got = ctl.value()
    ear.close()
    assert got["done"].get("Application") == "transfer" and got["lingering"]
    assert ear.packets and ear.packets[-1][0] < got["at"] + 0.05
    assert record.transferred_to == "1000 XML default" and record.hangup_by == "far_end"
    assert not record.socket_returned and not record.errors


@pytest.mark.parametrize("hangup_after_bridge", ["true", "false"])
def test_bridge_follows_hangup_after_bridge(serve, hangup_after_bridge: str) -> None:
    def handler(conn: EslConnection) -> list[str]:
        start_call(conn, linger=False)
        conn.execute("set", f"hangup_after_bridge={hangup_after_bridge}")
        seen: list[str] = []
        conn.on_event(lambda event: seen.append(event.name))
        try:
            conn.execute("bridge", "sofia/gateway/carrier/+4930999999")
            seen.append("control returned")
            conn.send(Hangup())
        except HangupError:
            seen.append("hung up")
        conn.wait_closed(2)
        return seen

    ctl = serve(handler)
    record = FreeSwitchStandIn(port=ctl.port, destination_number=DEST,
                               far_end_talk_s=0.2).run([], timeout_s=5)
    seen = ctl.value()
    assert seen[:3] == ["CHANNEL_EXECUTE", "CHANNEL_ANSWER", "CHANNEL_BRIDGE"]
    assert "CHANNEL_UNBRIDGE" in seen
    assert record.transferred_to == "sofia/gateway/carrier/+4930999999"
    if hangup_after_bridge == "true":
        assert seen[-1] == "hung up" and record.hangup_by == "far_end"
    else:
        assert "control returned" in seen and record.hangup_by == "controller"


def test_uuid_transfer_interrupts_a_running_playback(serve) -> None:
    def handler(conn: EslConnection) -> tuple[str, Any]:
        start_call(conn, linger=False)
        conn.execute("answer")
        _, result = conn.execute_async("playback", "silence_stream://5000")
        gevent.sleep(0.1)
        reply = conn.api(f"uuid_transfer {conn.uuid} -bleg 200 XML default")
        return reply, result.get(timeout=1)

    ctl = serve(handler)
    record = FreeSwitchStandIn(port=ctl.port, destination_number=DEST,
                               far_end_talk_s=0.2).run([], timeout_s=5)
    reply, playback = ctl.value()
    assert reply == "+OK\n"
    assert playback.get("Application-Response") == "FILE PLAYED"
    assert record.transferred_to == "200 XML default"


# ---------------------------------------------------------------------------- failures

def test_unreachable_controller_leaves_the_call_to_the_dialplan() -> None:
    port = free_udp_port()  # nothing listens on it over TCP
    record = FreeSwitchStandIn(port=port, destination_number=DEST,
                               connect_timeout=1).run([HangUp()], timeout_s=2)
    assert not record.connected and not record.commands


def test_silent_controller_is_dropped_after_the_first_command_timeout() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    fs = FreeSwitchStandIn(port=server.getsockname()[1], destination_number=DEST,
                           first_command_timeout=0.3)
    call = gevent.spawn(fs.run, [Pause(0.6), HangUp()], timeout_s=5)
    sock, _ = server.accept()
    sock.settimeout(2)
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    assert data.startswith(b"Content-Type: text/disconnect-notice\n")
    record = call.get(timeout=5)
    sock.close()
    server.close()
    assert any("no command within" in e for e in record.errors)
    assert record.hangup_by == "caller"  # the parked channel waited for the caller


def test_first_command_other_than_connect_gets_no_reply() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    fs = FreeSwitchStandIn(port=server.getsockname()[1], destination_number=DEST)
    call = gevent.spawn(fs.run, [Pause(0.5), HangUp()], timeout_s=5)
    sock, _ = server.accept()
    sock.sendall(b"myevents\n\n")
    sock.settimeout(0.3)
    with pytest.raises(TimeoutError):
        sock.recv(1)
    sock.close()
    record = call.get(timeout=5)
    server.close()
    assert any("not connect" in e for e in record.errors)


# ---------------------------------------------------------------------------- greenswitch

def test_greenswitch_outbound_server_runs_a_call_against_the_stand_in() -> None:
    """ESL.md §6: a real third-party client is satisfied by the stand-in's bytes."""
    from greenswitch.esl import OutboundESLServer

    seen: dict[str, Any] = {}

    class Application:
        def __init__(self, session: Any):
            self.session = session

        def run(self) -> None:
            seen["uuid"] = self.session.uuid
            seen["caller"] = self.session.caller_id_number
            self.session.myevents()
            seen["answer"] = self.session.answer()
            seen["playback"] = self.session.playback("silence_stream://100")
            self.session.hangup()

    port = free_udp_port()
    server = OutboundESLServer(bind_address="127.0.0.1", bind_port=port,
                               application=Application, max_connections=5)
    listener = gevent.spawn(server.listen)
    gevent.sleep(0.05)
    fs = FreeSwitchStandIn(port=port, destination_number=DEST, caller_number="4989123")
    record = fs.run([], timeout_s=5)
    server.stop()
    listener.join(timeout=2)
    assert seen["uuid"] == fs.uuid and seen["caller"] == "4989123"
    assert seen["answer"].startswith("+OK")
    assert seen["playback"].headers["Application-Response"] == "FILE PLAYED"
    assert [app for app, _ in record.executed] == ["answer", "playback", "hangup"]
    assert record.hangup_by == "controller"
    # greenswitch sends sendmsg without Event-UUID; that is the only thing the stand-in flags
    assert record.errors and all("Event-UUID" in e for e in record.errors)
