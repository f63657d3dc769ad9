"""Barge-in as the caller hears it, through the real FreeSWITCH: the caller starts to speak
1.2 s into the greeting; how long after its first word does the agent fall silent at its ear?

    .venv/bin/python -m bench.bench_bargein --calls 6            # node in-process, test engines
    .venv/bin/python -m bench.bench_bargein --calls 6 --node process --models DIR/models

Two ways of measuring, each over ``--calls`` calls, printed as p50/p95/max:

- ``probe``: the caller's leg is under a clocked probe's socket + unicast
  (``tests/ear_probe.py``): wall-clock time of the caller's first voiced frame leaving →
  arrival of the agent's last voiced frame at the caller's leg. On a loopback line and on a SIP
  line (the carrier profile dials the product's ``voicegate`` profile; PCMA RTP both ways).
  Also printed: when the node logged the barge-in (in-process node only).
- ``sipp``: a real SIP user agent (``tests/sipp/uac_caller.xml``, PCMA) speaks via RTP; the
  RTP packets both ways are sniffed on ``lo`` (AF_PACKET, root) with kernel timestamps: the
  caller's first voiced packet sent → the agent's last voiced packet to the caller.
- ``recording`` (how issue 16 measured it): a loopback caller records in stereo
  (``record_session``) and plays a WAV whose speech starts 1.2 s into the greeting; the caller's
  first word is the first voiced frame it said, the agent's silence the end of the greeting as
  it heard it.

``--node lab`` (default) runs the node in this process (gevent-patched as in production) with a
tone TTS and a long greeting; ``--node process`` runs ``voicegate run`` with the real engines
(demo practice, greeting ~4 s; ``--models``: a folder from ``voicegate models pull``, else
pulled into a temporary one).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import logging  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from media.engines import Audio  # noqa: E402

NUMBER = "4930123456"
SAYS = "Moment, ich habe noch eine Frage."
SPEAK_AFTER_S = 1.2
LAB_GREETING = ("Praxis Test, guten Tag! Sie sprechen mit dem digitalen Empfang der Praxis. "
                "Wie kann ich Ihnen heute helfen?")


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(name: str, values_ms: Sequence[float | None]) -> str:
    got = [v for v in values_ms if v is not None]
    missing = len(values_ms) - len(got)
    text = (f"{name:<38} p50 {percentile(got, 50):6.0f} ms  p95 {percentile(got, 95):6.0f} ms  "
            f"max {max(got) if got else float('nan'):6.0f} ms  (n={len(got)})")
    return text + (f"  {missing} calls: agent did not stop" if missing else "")


class BargeInLog(logging.Handler):
    """Monotonic times of the node's "barge-in" log lines (in-process node)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.times: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "barge-in" in record.getMessage():
            self.times.append(time.monotonic())


# ---------------------------------------------------------------------------- the node

def lab_node(workdir: Path):
    from media.testing import ScriptedLLM, ScriptedSTT, ToneTTS
    from models import Agent, db
    from tests.call_lab import CallLab

    lab = CallLab(data_dir=workdir / "node", stt=ScriptedSTT(default="Ich habe eine Frage."),
                  llm=ScriptedLLM(default="Gern."), tts=ToneTTS(ms_per_char=150, min_ms=200))
    lab.start()
    lab.seed_practice()
    with lab.node.db_app.app_context():
        agent = db.session.get(Agent, lab.agents["Empfang"])
        agent.params = {**agent.params, "greeting": LAB_GREETING}
        db.session.commit()
    return lab, lab.port, lab.stop


def process_node(workdir: Path, fs, models: Path | None):
    from tests.real_node import RealNode, pulled_models

    models = models or pulled_models(workdir / "models-data")
    node = RealNode.create(workdir / "node", models=models, freeswitch=fs)
    node.always("Empfang")
    node.start()
    return node, node.esl_port, node.stop


# ---------------------------------------------------------------------------- the calls

def probe_calls(fs, leg: str, calls: int, speech: Audio, marks: BargeInLog | None
                ) -> tuple[list[float | None], list[float | None]]:
    from tests.ear_probe import EarProbe

    target = (f"loopback/{NUMBER}/voicegate" if leg == "loopback"
              else f"sofia/carrier/{NUMBER}@127.0.0.1:{fs.sip_port}")
    at_ear, logged = [], []
    for _ in range(calls):
        if marks:
            marks.times.clear()
        probe = EarProbe(speech, speak_after_s=SPEAK_AFTER_S, hold_s=1.0)
        fs.bgapi("originate {origination_caller_id_number=491701234567,"
                 f"ignore_early_media=true}}{target} "
                 f"'&socket(127.0.0.1:{probe.port} async full)'")
        result = probe.wait(60)
        if result.error:
            print(f"  {leg} call: {result.error}")
        silent = result.agent_silent_after_s
        at_ear.append(None if silent is None else 1000 * silent)
        if marks and marks.times and result.mouth_at:
            logged.append(1000 * (marks.times[0] - result.mouth_at))
        settle(fs)
    return at_ear, logged


def sipp_calls(fs, calls: int, speech: Audio, workdir: Path) -> list[float | None]:
    """sipp callers (tests/sipp/uac_caller.xml, PCMA): RTP both ways sniffed on ``lo`` with
    kernel timestamps; the caller's first voiced packet sent → the agent's last voiced packet
    to the caller."""
    from tests.test_real_freeswitch_sip import start_sipp

    results: list[float | None] = []
    for index in range(calls):
        sniffer = RtpSniffer(fs.rtp_range)
        sipp = start_sipp(workdir / f"sipp-{index}", fs, "PCMA", speech, wait_ms=1300)
        time.sleep(1.3 + speech.duration_s + 2.0)
        for row in fs.channels():
            if (row.get("name") or "").startswith("sofia/voicegate/"):
                fs.api(f"uuid_kill {row['uuid']}")
        sipp.wait(30)
        sniffer.stop()
        results.append(sniffer.silent_after_ms())
        settle(fs)
    return results


class RtpSniffer:
    """G.711 RTP packets on ``lo`` (AF_PACKET, needs root): to FreeSWITCH's RTP ports (the
    caller's mouth) and from them (its ear), with kernel receive times."""

    def __init__(self, rtp_range: tuple[int, int]) -> None:
        import socket
        import threading

        self.rtp_range = rtp_range  # FreeSWITCH's RTP ports (sipp's lie outside)
        self.to_fs: list[tuple[float, bool]] = []
        self.from_fs: list[tuple[float, bool]] = []
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
        self._sock.bind(("lo", 0))
        self._sock.setsockopt(socket.SOL_SOCKET, 35, 1)  # SO_TIMESTAMPNS
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import socket
        import struct

        from media.g711 import decode

        while not self._stop.is_set():
            try:
                data, ancillary, _flags, address = self._sock.recvmsg(2048, 64)
            except TimeoutError:
                continue
            if address[2] == socket.PACKET_OUTGOING or len(data) < 28 or data[9] != 17:
                continue
            header = (data[0] & 0x0F) * 4
            src, dst, length = struct.unpack("!HHH", data[header:header + 6])
            rtp = data[header + 8:header + length]
            if len(rtp) != 172 or rtp[0] & 0xC0 != 0x80 or rtp[1] & 0x7F not in (0, 8):
                continue
            at = next((struct.unpack("qq", v[:16]) for lvl, kind, v in ancillary
                       if lvl == socket.SOL_SOCKET and kind == 35), None)
            stamp = at[0] + at[1] / 1e9 if at else time.time()
            codec = "PCMU" if rtp[1] & 0x7F == 0 else "PCMA"
            samples = np.frombuffer(decode(rtp[12:], codec), dtype="<i2").astype(np.int32)
            loud = bool(np.abs(samples).max() > 500)
            low, high = self.rtp_range
            if low <= src <= high and not low <= dst <= high:
                self.from_fs.append((stamp, loud))
            elif low <= dst <= high and not low <= src <= high:
                self.to_fs.append((stamp, loud))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()

    def silent_after_ms(self, gap_s: float = 0.3) -> float | None:
        mouth = next((at for at, loud in self.to_fs if loud), None)
        if mouth is None:
            return None
        ear = [at for at, loud in self.from_fs if loud]
        before = [at for at in ear if mouth - gap_s < at <= mouth]
        if not before:
            return None
        last = before[-1]
        for at in ear:
            if at > last:
                if at - last > gap_s:
                    break
                last = at
        return 1000 * (last - mouth)


def settle(fs) -> None:
    """No channel left before the next call; one left over is reported and hung up."""
    from tests.real_freeswitch import FreeSwitchError

    try:
        fs.wait_no_channels(timeout=20)
    except FreeSwitchError:
        left = [(row.get("name"), row.get("state"), row.get("application"))
                for row in fs.channels()]
        print(f"  channels left after the call: {left}; hung up")
        fs.api("hupall NORMAL_CLEARING")
        fs.wait_no_channels(timeout=20)


def _voiced(audio: Audio, threshold: int = 500) -> np.ndarray:
    samples = np.frombuffer(audio.pcm, dtype="<i2").astype(np.int32)
    frames = samples[: samples.size // 160 * 160].reshape(-1, 160)
    return np.abs(frames).max(axis=1) > threshold


def silent_after_ms(said: Audio, heard: Audio, gap_frames: int = 15) -> float | None:
    """From the caller's stereo recording: its first voiced frame → the end of the agent audio
    it was hearing then (None: the agent was not speaking, or never stopped)."""
    spoke, hear = _voiced(said), _voiced(heard)
    if not spoke.any():
        return None
    first = int(np.argmax(spoke))
    if not hear[max(0, first - 15):first + 1].any():
        return None
    last, index, quiet = first, first, 0
    while index < hear.size and quiet <= gap_frames:
        if hear[index]:
            last, quiet = index, 0
        else:
            quiet += 1
        index += 1
    return None if quiet <= gap_frames else (last + 1 - first) * 20.0


def recording_calls(fs, calls: int, speech: Audio, greeting_offset_ms: int
                    ) -> list[float | None]:
    from tests.speech import concat, pause

    results = []
    for _ in range(calls):
        call = fs.call(NUMBER, concat(pause(greeting_offset_ms), speech), hold_ms=1500)
        call.wait_ended(60)
        stereo = call.stereo()
        results.append(silent_after_ms(stereo.said, stereo.heard))
        settle(fs)
    return results


def greeting_offset(fs, speech: Audio) -> int:
    """Where the greeting begins in a caller's recording (ms after the caller's answer)."""
    call = fs.call(NUMBER, hold_ms=800)
    call.wait_ended(30)
    heard = _voiced(call.stereo().heard)
    settle(fs)
    return int(np.argmax(heard)) * 20 if heard.any() else 100


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=6)
    parser.add_argument("--node", choices=["lab", "process"], default="lab")
    parser.add_argument("--models", type=Path, help="models folder (--node process)")
    parser.add_argument("--legs", default="loopback,sip,sipp")
    parser.add_argument("--no-recording", action="store_true",
                        help="skip the stereo-recording measurement")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    for handler in logging.getLogger().handlers:  # the node's INFO lines feed BargeInLog only
        handler.setLevel(logging.ERROR)

    from tests.real_freeswitch import RealFreeSwitch, caller_speech, unpack_tree

    speech = caller_speech(SAYS)
    with tempfile.TemporaryDirectory(prefix="bench-bargein-") as tmp:
        workdir = Path(tmp)
        tree = unpack_tree(workdir / "tree")
        marks: BargeInLog | None = None
        fs = RealFreeSwitch.create(tree, workdir / "fs")
        fs.start()
        stop: Callable[[], None] = lambda: None  # noqa: E731
        try:
            if args.node == "lab":
                marks = BargeInLog()
                logging.getLogger("esl_controller").addHandler(marks)
                logging.getLogger("esl_controller").setLevel(logging.INFO)
                _node, port, stop = lab_node(workdir)
            else:
                _node, port, stop = process_node(workdir, fs, args.models)
            fs.set_vars(esl_hosts=[f"127.0.0.1:{port}"])
            print(f"barge-in through the real FreeSWITCH, node: {args.node}, "
                  f"{args.calls} calls per line, caller speaks {SPEAK_AFTER_S} s into the "
                  "greeting")
            for leg in args.legs.split(","):
                if leg == "sipp":
                    try:
                        results = sipp_calls(fs, args.calls, speech, workdir)
                    except PermissionError:
                        print("sipp: sniffing RTP on lo needs root (AF_PACKET); skipped")
                        continue
                    print(summary("sipp (RTP on lo): first word -> silence", results))
                    continue
                at_ear, logged = probe_calls(fs, leg, args.calls, speech, marks)
                print(summary(f"probe {leg}: first word -> silence", at_ear))
                if logged:
                    print(summary(f"probe {leg}: first word -> node log", logged))
            if not args.no_recording:
                offset = greeting_offset(fs, speech)
                results = recording_calls(fs, args.calls, speech,
                                          offset + int(1000 * SPEAK_AFTER_S))
                print(summary("recording loopback: word -> silence", results))
        finally:
            stop()
            fs.stop()


if __name__ == "__main__":
    main()
