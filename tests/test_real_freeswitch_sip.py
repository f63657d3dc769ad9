"""A SIP call with RTP from a real SIP user agent (sipp, Debian ``sip-tester``) into the
product's SIP profile (``freeswitch_conf/sip_profiles/voicegate.xml``, context ``voicegate``), to
the node as an operator runs it (``voicegate run``, real espeak-ng and faster-whisper base).

sipp's caller (``tests/sipp/uac_caller.xml``) offers PCMA or PCMU, waits for the greeting,
presses 1 (RFC 2833 events, ``play_pcap_audio`` of a pcap the test writes) and says
"Ich brauche einen Termin." as G.711 RTP (``rtp_stream``): the call must be answered,
greeted, heard and routed to the Empfang agent's "Terminvergabe" desk, the key on the chat
timeline, the chat complete, and sipp must see a clean end of the call (its BYE answered).
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from media.engines import Audio
from media.g711 import Codec, encode
from tests.real_freeswitch import (
    RealFreeSwitch,
    caller_speech,
    freeswitch_tree,  # noqa: F401  (fixture)
)
from tests.real_node import (
    empfang_line_fs,  # noqa: F401  (fixture fs)
    empfang_line_node,  # noqa: F401  (fixture node)
    real_models,  # noqa: F401  (fixture)
)

pytestmark = pytest.mark.slow

NUMBER = "4930123456"  # the demo practice, Empfang
TERMIN_DESK = "4930123457"  # Empfang's target "Terminvergabe"
SCENARIO = Path(__file__).with_name("sipp") / "uac_caller.xml"
PAYLOAD_TYPES = {"PCMU": 0, "PCMA": 8}
GREETING_WAIT_MS = 5500  # the demo greeting is ~4 s


def g711_wav(path: Path, audio: Audio, codec: Codec) -> Path:
    """A WAV holding G.711 (format 7 µ-law / 6 A-law): what sipp's rtp_stream sends as is."""
    data = encode(audio.pcm, codec)
    fmt = struct.pack("<HHIIHH", 6 if codec == "PCMA" else 7, 1, 8000, 8000, 1, 8)
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE"
                     + b"fmt " + struct.pack("<I", len(fmt)) + fmt
                     + b"data" + struct.pack("<I", len(data)) + data)
    return path


KEYS_STEP = """  <nop>
    <action>
      <exec play_pcap_audio="dtmf.pcap"/>
    </action>
  </nop>
  <pause milliseconds="800"/>"""


def rfc2833_pcap(path: Path, digits: str) -> Path:
    """A pcap of RFC 2833 telephone-event packets (payload type 101) pressing ``digits``,
    240 ms each: what sipp's play_pcap_audio sends to FreeSWITCH as the caller's keys."""
    records = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]  # Ethernet
    at, seq, timestamp = 0.0, 1, 8000
    for digit in digits:
        event = "0123456789*#".index(digit)
        payloads = [struct.pack("!BBH", event, 10, 160 * (i + 1)) for i in range(12)]
        payloads += [struct.pack("!BBH", event, 0x80 | 10, 160 * 12)] * 3  # end, 3 times
        for index, payload in enumerate(payloads):
            rtp = struct.pack("!BBHII", 0x80, (0x80 if index == 0 else 0) | 101, seq,
                              timestamp, 0x5EED) + payload
            udp = struct.pack("!HHHH", 4000, 5000, 8 + len(rtp), 0) + rtp
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                             bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
            frame = bytes(12) + b"\x08\x00" + ip
            records.append(struct.pack("<IIII", int(at), round(at % 1 * 1e6), len(frame),
                                       len(frame)) + frame)
            seq += 1
            at += 0.02
        timestamp += 160 * 25
        at += 0.2
    path.write_bytes(b"".join(records))
    return path


def start_sipp(workdir: Path, fs: RealFreeSwitch, codec: Codec, speech: Audio,
               wait_ms: int = GREETING_WAIT_MS, keys: str = "") -> subprocess.Popen:
    """sipp calling ``NUMBER`` at the product's SIP profile, pressing ``keys`` (RFC 2833)
    after ``wait_ms``, then saying ``speech``; runs until the far end's BYE."""
    workdir.mkdir(parents=True, exist_ok=True)
    g711_wav(workdir / "caller.wav", speech, codec)
    if keys:
        rfc2833_pcap(workdir / "dtmf.pcap", keys)
    scenario = SCENARIO.read_text("ascii")
    for name, value in {"CODEC": codec, "PT": str(PAYLOAD_TYPES[codec]),
                        "WAIT_MS": str(wait_ms), "KEYS": KEYS_STEP if keys else ""}.items():
        scenario = scenario.replace(f"@{name}@", value)
    (workdir / "uac.xml").write_text(scenario, "ascii")
    command = ["sipp", "-sf", "uac.xml", "-s", NUMBER, "-i", "127.0.0.1", "-p", "0", "-mp", "0",
               "-m", "1", "-l", "1", "-timeout", "120s", "-timeout_error", "-nostdin",
               "-trace_msg", "-message_file", "messages.log", "-trace_err",
               "-error_file", "errors.log", f"127.0.0.1:{fs.sip_port}"]
    return subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("codec", ["PCMA", "PCMU"])
def test_sip_caller_is_greeted_heard_and_routed(fs, node, tmp_path, codec):
    before = set(node.chats())
    seen = len(fs.watch.events)
    sipp = start_sipp(tmp_path / "sipp", fs, codec,
                      caller_speech("Ich brauche einen Termin.", voice="de+klatt3",
                                    speed_wpm=140), keys="1")
    try:
        answer = fs.watch.wait(lambda e: e.name == "CHANNEL_ANSWER"
                               and (e.get("Channel-Name") or "").startswith("sofia/voicegate/")
                               and e.get("Caller-Destination-Number") == NUMBER,
                               timeout=30, after=seen)
        assert answer.get("Channel-Read-Codec-Name") == codec
        call_uuid = answer.uuid
        assert call_uuid not in before
        chat = node.wait_turn(call_uuid, lambda t: t[0] == "caller", timeout=60)
        chat = node.wait_chat(call_uuid, timeout=60)
    finally:
        # the caller's part is done: end its line (the human's leg, if any, goes with it)
        for row in fs.channels():
            if row.get("uuid") and (row.get("name") or "").startswith("sofia/voicegate/"):
                fs.api(f"uuid_kill {row['uuid']}")
        try:
            _out, err = sipp.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            sipp.kill()
            _out, err = sipp.communicate()
    assert sipp.returncode == 0, f"sipp: {err[-800:]}"

    assert chat.answered and chat.ended and chat.status == "neu"
    assert chat.called_number == NUMBER and chat.caller_number == "491701234567"
    roles = [role for role, _text in chat.transcript]
    assert roles[:2] == ["agent", "caller"], chat.transcript
    assert "termin" in chat.transcript[1][1].lower()  # Whisper heard the caller through RTP
    assert chat.end_reason == "transfer" and chat.transferred_to == TERMIN_DESK
    assert ("transfer", TERMIN_DESK) in [(kind, d.get("number")) for kind, d in chat.events]
    assert chat.recordings
    # the key the caller pressed (RFC 2833 over RTP) is on the timeline
    keys = [(d.get("text"), d.get("source")) for kind, d in chat.events if kind == "dtmf"]
    assert keys == [("Taste 1 gedrückt", "RTP")]
    fs.wait_no_channels(timeout=30)

