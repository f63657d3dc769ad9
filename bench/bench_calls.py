"""N simultaneous calls through the FreeSWITCH stand-in against one controller, with instant
test engines: what the controller itself adds.

The controller runs in this process; the stand-ins (the callers) run in a child process, as
FreeSWITCH would on its own cores. Each call: greeting → caller sentence → agent answer →
caller "tschüss" → agent goodbye + hangup.

    .venv/bin/python -m bench.bench_calls --calls 100

Prints calls handled, chats complete, the controller's added latency (p50/p95) and the p99
jitter of the outgoing 20 ms packets as the callers received them.

    .venv/bin/python -m bench.bench_calls --freeswitch --calls 20

The same calls through the real FreeSWITCH (``tests/real_freeswitch.py``, the product's
freeswitch_conf): loopback callers in context ``voicegate`` that play the two sentences
(espeak-ng) and record what they hear. The jitter is then measured where FreeSWITCH receives the
agent's unicast datagrams: kernel receive timestamps of the UDP packets to FreeSWITCH's unicast
ports on ``lo`` (an AF_PACKET socket; needs root, else that line says so). Also printed: 20 ms
frames of silence inside the agent's speech as the caller heard it (packets FreeSWITCH did not
have in time).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SAYS = ["Ich möchte einen Termin vereinbaren.", "Nein danke, tschüss."]
ENDPOINT_MS = 600


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class TurnCountingLLM:
    """Operator decision by turn: ask back on the first caller turn, end on the second."""

    name = "bench-llm"

    def chat(self, messages, *, tools=(), response_format=None):
        from media.engines import LlmChunk

        turns = sum(1 for m in messages if m.role == "user")
        wanted = (response_format or {}).get("properties", {})
        if "action" not in wanted:  # the summary after the call
            decision = json.dumps({key: "" if key != "summary" else "Der Anrufer wollte einen "
                                   "Termin." for key in wanted}) if wanted else "Termin."
        elif turns <= 1:
            decision = json.dumps({"reply": "Gern. Welcher Tag passt Ihnen?", "action": "ask",
                                   "target": "none"})
        else:
            decision = json.dumps({"reply": "Auf Wiederhören!", "action": "end",
                                   "target": "none"})
        yield LlmChunk(text=decision)
        yield LlmChunk(done=True)


def run_callers(port: int, calls: int, out: Any) -> None:
    """Child process: place ``calls`` calls at once, report what each caller saw."""
    import gevent  # the stand-in uses gevent's sockets directly

    from esl_controller.testing import (
        FreeSwitchStandIn,
        Say,
        WaitForAgentAudio,
        WaitForAgentSilence,
    )
    from esl_controller.testing.script import espeak_de, is_voiced
    from media.audio import split_frames

    trailing_ms = {}
    for text in SAYS:  # synthesise once, before the clock starts
        audio = espeak_de(text)
        frames = split_frames(audio.pcm, audio.sample_rate)
        voiced = [i for i, f in enumerate(frames) if is_voiced(f)]
        trailing_ms[text] = (len(frames) - 1 - voiced[-1]) * 20 if voiced else 0
    script = [WaitForAgentAudio(timeout_s=30), WaitForAgentSilence(silence_s=0.5, timeout_s=30)]
    for text in SAYS:
        script += [Say(text=text), WaitForAgentAudio(timeout_s=30),
                   WaitForAgentSilence(silence_s=0.5, timeout_s=30)]
    script.append(WaitForAgentSilence(silence_s=1.5, timeout_s=30))

    def one(i: int) -> dict[str, Any]:
        gevent.sleep(i * 0.01)  # calls arrive over one second
        standin = FreeSwitchStandIn("127.0.0.1", port, destination_number="4930123456",
                                    caller_number=f"49170{i:07d}")
        record = standin.run(script, timeout_s=90)
        ends = [at - trailing_ms[text] / 1000
                for at, text in zip(record.caller_speech_ends, SAYS, strict=False)]
        return {"uuid": record.uuid, "hangup_by": record.hangup_by, "errors": record.errors,
                "packets": record.agent_packets, "speech_ends": ends}

    jobs = [gevent.spawn(one, i) for i in range(calls)]
    gevent.joinall(jobs)
    out.send([job.value for job in jobs])


def caller_side_gaps(result: dict[str, Any]) -> list[float]:
    """Per caller utterance: its last frame → first agent packet after it, minus the endpoint."""
    gaps = []
    for end in result["speech_ends"]:
        after = [at for at, _ in result["packets"] if at > end]
        if after:
            gaps.append((after[0] - end) * 1000 - ENDPOINT_MS)
    return gaps


def packet_jitter(result: dict[str, Any]) -> list[float]:
    """|inter-arrival − 20 ms| between consecutive agent packets of one stretch of speech."""
    times = [at for at, _ in result["packets"]]
    return [abs((b - a) * 1000 - 20) for a, b in zip(times, times[1:], strict=False)
            if b - a < 0.2]


def _sniff_unicast(ports: tuple[int, int], stop: Any, found: dict[int, list[float]]) -> None:
    """Kernel receive times of 320-byte UDP datagrams to ``ports`` on ``lo`` (FreeSWITCH's
    unicast local ports: the agent's audio as FreeSWITCH gets it)."""
    import socket
    import struct

    so_timestampns = getattr(socket, "SO_TIMESTAMPNS", 35)
    # SOCK_DGRAM: cooked packets, starting at the IP header (no link-layer header)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    sock.bind(("lo", 0))
    sock.setsockopt(socket.SOL_SOCKET, so_timestampns, 1)
    sock.settimeout(0.2)
    low, high = ports
    while not stop.is_set():
        try:
            data, ancillary, _flags, address = sock.recvmsg(2048, 64)
        except TimeoutError:
            continue
        if address[2] == socket.PACKET_OUTGOING or len(data) < 28 or data[9] != 17:
            continue
        header = (data[0] & 0x0F) * 4
        dst, length = struct.unpack("!2xHH", data[header:header + 6])
        if not low <= dst <= high or length - 8 != 320:
            continue
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == so_timestampns:
                sec, nsec = struct.unpack("qq", value[:16])
                found.setdefault(dst, []).append(sec + nsec / 1e9)


def _heard_underruns(path: str) -> tuple[int, int]:
    """(silent frames inside agent speech, agent speech frames) in what the caller heard."""
    import wave

    import numpy as np

    with wave.open(path, "rb") as wav:
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        channels = wav.getnchannels()
    heard = data.reshape(-1, channels)[:, 0].astype(np.int32)
    frames = heard[: heard.size // 160 * 160].reshape(-1, 160)
    loud = np.abs(frames).max(axis=1) > 1000 if frames.size else np.array([], dtype=bool)
    idx = np.flatnonzero(loud)
    silent_inside = sum(int(b - a - 1) for a, b in zip(idx, idx[1:], strict=False)
                        if 1 < b - a <= 5)  # a gap of up to 80 ms inside one stretch
    return silent_inside, int(loud.sum())


def run_freeswitch_callers(port: int, rtp_ports: tuple[int, int], calls: int, out: Any) -> None:
    """Child process: a real FreeSWITCH whose dialplan reaches the controller on ``port``;
    ``calls`` loopback callers at once; what FreeSWITCH received and the callers heard."""
    import threading

    from tests.real_freeswitch import RealFreeSwitch, caller_speech, unpack_tree
    from tests.speech import concat, pause

    home = Path(tempfile.mkdtemp(prefix="bench-freeswitch-"))
    fs = RealFreeSwitch.create(unpack_tree(home / "tree"), home / "fs",
                               esl_hosts=[f"127.0.0.1:{port}"])
    fs.start()
    audio = concat(pause(1500), caller_speech(SAYS[0]), pause(2500), caller_speech(SAYS[1]))
    stop, packets = threading.Event(), {}
    sniff_error = ""
    try:
        sniffer = threading.Thread(target=_sniff_unicast, args=(rtp_ports, stop, packets),
                                   daemon=True)
        sniffer.start()
    except Exception as exc:  # not root: no AF_PACKET
        sniff_error = f"{type(exc).__name__}: {exc}"
    results = []
    try:
        placed = [fs.call("4930123456", audio, caller_number=f"49170{i:07d}")
                  for i in range(calls)]
        for call in placed:
            try:
                call.wait_ended(120)
                gaps, voiced = _heard_underruns(str(fs.wait_recorded(call.recording)))
                results.append({"uuid": call.call_uuid, "ended": True, "underruns": gaps,
                                "agent_frames": voiced})
            except Exception as exc:
                results.append({"uuid": call.call_uuid, "ended": False, "error": str(exc)})
        fs.wait_no_channels(30)
    finally:
        stop.set()
        fs.kill()
    if not sniff_error and not packets:
        sniff_error = "no packets captured (AF_PACKET needs root)"
    out.send({"results": results, "packets": packets, "sniff_error": sniff_error})


def main_freeswitch(calls: int) -> None:
    import gevent

    from media.testing import ScriptedSTT, ToneTTS
    from models import Chat, db
    from tests.call_lab import CallLab

    data = Path(tempfile.mkdtemp(prefix="bench-calls-"))
    lab = CallLab(data_dir=data / "node", stt=ScriptedSTT(default=SAYS[0]),
                  llm=TurnCountingLLM(), tts=ToneTTS(ms_per_char=8.0))
    lab.start().seed_practice()
    settings = lab.node.services.settings
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=run_freeswitch_callers,
                       args=(lab.port, (settings.rtp_port_min, settings.rtp_port_max), calls,
                             child))
    started = time.monotonic()
    proc.start()
    while not parent.poll():
        gevent.sleep(0.05)
    report = parent.recv()
    proc.join()
    wall = time.monotonic() - started
    deadline = time.monotonic() + 10
    while len(lab.node.services.live) and time.monotonic() < deadline:
        gevent.sleep(0.05)
    results = report["results"]
    with lab.node.db_app.app_context():
        chats = {c.call_uuid: c for c in db.session.scalars(db.select(Chat))}
        handled = complete = 0
        overheads: list[float] = []
        for r in results:
            chat = chats.get(r["uuid"])
            if chat is None:
                continue
            roles = [t.role for t in chat.turns]
            handled += chat.end_reason == "agent_hangup"
            if (chat.status == "neu" and chat.end_reason == "agent_hangup"
                    and roles == ["agent", "caller", "agent", "caller", "agent"]):
                complete += 1
            overheads += [t.timings["overhead"] for t in chat.turns if "overhead" in t.timings]
    lab.stop()
    jitter = []
    for times in report["packets"].values():
        times = sorted(times)
        jitter += [abs((b - a) * 1000 - 20) for a, b in zip(times, times[1:], strict=False)
                   if b - a < 0.2]
    underruns = sum(r.get("underruns", 0) for r in results)
    agent_frames = sum(r.get("agent_frames", 0) for r in results)
    print(f"calls placed:            {len(results)} at once through the real FreeSWITCH "
          f"(wall {wall:.1f} s, incl. FreeSWITCH start)")
    print(f"calls handled:           {handled} (agent hung up; "
          f"{sum(not r['ended'] for r in results)} caller legs did not end)")
    print(f"chats complete:          {complete}/{len(results)}")
    if overheads:
        print(f"controller overhead:     p50 {statistics.median(overheads):.1f} ms, "
              f"p95 {percentile(overheads, 95):.1f} ms  (endpoint decision → first agent "
              f"packet, minus engine time; n={len(overheads)})")
    if jitter:
        print(f"unicast jitter at FS:    p50 {statistics.median(jitter):.2f} ms, "
              f"p99 {percentile(jitter, 99):.2f} ms, max {max(jitter):.2f} ms (kernel receive "
              f"times at FreeSWITCH's unicast ports, n={len(jitter)} packet gaps, "
              f"{len(report['packets'])} calls)")
    else:
        print(f"unicast jitter at FS:    not measured ({report['sniff_error']})")
    print(f"caller heard:            {underruns} silent 20 ms frames inside "
          f"{agent_frames} frames of agent speech (packets FreeSWITCH lacked in time)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--freeswitch", action="store_true",
                        help="through the real FreeSWITCH (loopback callers) instead of the "
                             "stand-in")
    args = parser.parse_args()
    if args.freeswitch:
        main_freeswitch(args.calls)
        return

    import gevent  # the controller uses gevent's sockets directly; no monkey-patching needed

    from media.testing import ScriptedSTT, ToneTTS
    from models import Chat, db
    from tests.call_lab import CallLab

    data = Path(tempfile.mkdtemp(prefix="bench-calls-"))
    lab = CallLab(data_dir=data / "node", stt=ScriptedSTT(default=SAYS[0]),
                  llm=TurnCountingLLM(), tts=ToneTTS(ms_per_char=8.0))
    lab.start().seed_practice()
    parent, child = multiprocessing.get_context("spawn").Pipe()
    proc = multiprocessing.get_context("spawn").Process(target=run_callers,
                                                        args=(lab.port, args.calls, child))
    started = time.monotonic()
    proc.start()
    while not parent.poll():
        gevent.sleep(0.05)
    results = parent.recv()
    proc.join()
    wall = time.monotonic() - started
    deadline = time.monotonic() + 10
    while len(lab.node.services.live) and time.monotonic() < deadline:
        gevent.sleep(0.05)

    with lab.node.db_app.app_context():
        chats = {c.call_uuid: c for c in db.session.scalars(db.select(Chat))}
        complete, overheads = 0, []
        for r in results:
            chat = chats.get(r["uuid"])
            if chat is None:
                continue
            roles = [t.role for t in chat.turns]
            if (chat.status == "neu" and chat.end_reason == "agent_hangup"
                    and roles == ["agent", "caller", "agent", "caller", "agent"]):
                complete += 1
            overheads += [t.timings["overhead"] for t in chat.turns if "overhead" in t.timings]
    gaps = [g for r in results for g in caller_side_gaps(r)]
    jitter = [j for r in results for j in packet_jitter(r)]
    handled = sum(1 for r in results if r["hangup_by"] == "controller")
    lab.stop()
    print(f"calls placed:            {len(results)} at once (wall {wall:.1f} s)")
    print(f"calls handled:           {handled}")
    print(f"chats complete:          {complete}/{len(results)}")
    print(f"controller overhead:     p50 {statistics.median(overheads):.1f} ms, "
          f"p95 {percentile(overheads, 95):.1f} ms  (endpoint decision → first agent packet, "
          f"minus engine time; n={len(overheads)})")
    print(f"caller-side gap − {ENDPOINT_MS} ms: p50 {statistics.median(gaps):.1f} ms, "
          f"p95 {percentile(gaps, 95):.1f} ms  (last speech frame sent → first agent packet "
          f"received, minus the endpoint silence; includes VAD end-detection slack)")
    print(f"packet jitter:           p50 {statistics.median(jitter):.2f} ms, "
          f"p99 {percentile(jitter, 99):.2f} ms, max {max(jitter):.2f} ms "
          f"(n={len(jitter)} packet gaps)")
    pacer = lab.node.services.pacer
    lateness = [x * 1000 for x in pacer.lateness]
    print(f"send-side tick lateness: p50 {statistics.median(lateness):.2f} ms, "
          f"p99 {percentile(lateness, 99):.2f} ms (controller's pacer, "
          f"{pacer.late_ticks} ticks skipped)")
    errors = [e for r in results for e in r["errors"]]
    if errors:
        print(f"caller-side notes:       {len(errors)} (first: {errors[0]})")


if __name__ == "__main__":
    main()
