"""Turn gap of the real node: the caller's last word → the first agent audio, with the node
started as an operator starts it (``voicegate run``, patched, espeak-ng, faster-whisper with the
real base model, keyword mode).

    .venv/bin/python bench/bench_node_turn.py --calls 10              # as `voicegate call` sees it
    .venv/bin/python bench/bench_node_turn.py --freeswitch --calls 8    # through real FreeSWITCH

``--freeswitch``: N loopback calls in sequence through the real FreeSWITCH to the demo's
Empfang agent (an "immer" window, so the clock does not matter). The caller's leg is under a
clocked probe (``tests/ear_probe.py``): it waits until the greeting has ended (nothing voiced
heard for ``--after-greeting-s``), says ``--say``
and times, at its ear, its last voiced frame leaving → the first voiced agent frame arriving.
Printed next to it: the node's own stored timings of that turn (endpoint, stt, llm_ttft,
tts_first_audio, overhead, total = its VAD's last speech → its first packet out).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NUMBER = "4930123456"  # the demo's main number (agents/demo.py)
FS_SAY = "Es ist ein Notfall."
TIMING_KEYS = ("endpoint", "stt", "llm_ttft", "tts_first_audio", "overhead", "total")


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def spread(values: Sequence[float], unit: str = "s") -> str:
    if not values:
        return "no values"
    digits = 2 if unit == "s" else 0
    return ", ".join(f"{name} {value:.{digits}f} {unit}" for name, value in (
        ("p50", percentile(values, 50)), ("p95", percentile(values, 95)),
        ("min", min(values)), ("max", max(values))))


def call_mode(args: argparse.Namespace) -> int:
    from tests.test_node_process import EMERGENCY, NodeProcess, operator_sets_up

    data = Path(tempfile.mkdtemp(prefix="bench-node-")) / "data"
    operator_sets_up(data)
    node = NodeProcess.start(data)
    gaps: list[float] = []
    try:
        for _ in range(args.calls):
            out = node.call(args.say or EMERGENCY).stdout
            match = re.search(r"Antwortzeit nach Äußerung 1 [^:]*: ([0-9]+,[0-9]+) s", out)
            if match:
                gaps.append(float(match.group(1).replace(",", ".")))
    finally:
        node.stop()
    print(f"turn gap over {len(gaps)}/{args.calls} answered calls: "
          f"p50 {statistics.median(gaps):.2f} s, p95 {percentile(gaps, 95):.2f} s, "
          f"min {min(gaps):.2f} s, max {max(gaps):.2f} s")
    return 0


def freeswitch_mode(args: argparse.Namespace) -> int:
    from bench.bench_bargein import settle
    from tests.ear_probe import EarProbe
    from tests.real_freeswitch import RealFreeSwitch, caller_speech, unpack_tree
    from tests.real_node import RealNode, pulled_models

    said = args.say or FS_SAY
    speech = caller_speech(said)
    workdir = Path(tempfile.mkdtemp(prefix="bench-node-turn-fs-"))
    fs = RealFreeSwitch.create(unpack_tree(workdir / "tree"), workdir / "fs")
    fs.start()
    node = None
    gaps: list[float] = []
    timings: dict[str, list[float]] = {key: [] for key in TIMING_KEYS}
    try:
        models = args.models or pulled_models(workdir / "models-data")
        node = RealNode.create(workdir / "node", models=models, freeswitch=fs)
        node.always("Empfang")
        node.start()
        fs.set_vars(esl_hosts=[f"127.0.0.1:{node.esl_port}"])
        print(f"turn gap through the real FreeSWITCH (loopback), real base model, "
              f"{args.calls} calls to Empfang, caller says {said!r} "
              f"once the greeting was quiet for {args.after_greeting_s} s; "
              f"load {os.getloadavg()}")
        for index in range(args.calls):
            before = set(node.chats())
            probe = EarProbe(speech, after_greeting_s=args.after_greeting_s, hold_s=args.hold_s)
            fs.bgapi("originate {origination_caller_id_number=491701234567,"
                     f"ignore_early_media=true}}loopback/{NUMBER}/voicegate "
                     f"'&socket(127.0.0.1:{probe.port} async full)'")
            result = probe.wait(90)
            gap = result.agent_answered_after_s
            settle(fs)
            new = [uuid for uuid in node.chats() if uuid not in before]
            chat = node.wait_chat(new[-1], timeout=60) if new else None
            turn = _answer_timings(chat)
            heard = next((text for role, _a, text, _i in (chat.turns if chat else [])
                          if role == "caller"), None)
            line = f"  call {index + 1}: at the ear {'-' if gap is None else f'{gap:.2f} s'}"
            barged = _greeting_cut(chat)
            line += f", node heard {heard!r}, node timings {turn}"
            line += ", the caller spoke into the greeting" if barged else ""
            print(line + (f", {result.error}" if result.error else ""), flush=True)
            if gap is not None:
                gaps.append(gap)
            for key in TIMING_KEYS:
                if key in turn:
                    timings[key].append(turn[key])
    finally:
        if node is not None:
            node.stop()
        fs.stop()
    print(f"turn gap at the caller's ear over {len(gaps)}/{args.calls} calls: {spread(gaps)}")
    for key in TIMING_KEYS:
        print(f"  node {key:<16} {spread(timings[key], 'ms')}")
    print(f"load after: {os.getloadavg()}")
    return 0 if len(gaps) == args.calls else 1


def _greeting_cut(chat) -> bool:
    """An agent turn before the caller's first one was cut short (the caller barged in)."""
    for role, _agent, _text, interrupted in (chat.turns if chat else []):
        if role == "caller":
            return False
        if interrupted:
            return True
    return False


def _answer_timings(chat) -> dict[str, float]:
    """The stored timings of the first agent turn that answers the caller (it has ``total``)."""
    if chat is None:
        return {}
    return next((t for t in chat.timings if "total" in t), {})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=None, help="10; --freeswitch: 8")
    parser.add_argument("--say", default=None)
    parser.add_argument("--freeswitch", action="store_true",
                        help="loopback calls through the real FreeSWITCH, timed at the ear")
    parser.add_argument("--models", type=Path, help="models folder from `voicegate models pull`")
    parser.add_argument("--after-greeting-s", type=float, default=1.5,
                        help="the caller speaks once it heard nothing for this long")
    parser.add_argument("--hold-s", type=float, default=8.0,
                        help="the caller listens this long after speaking")
    args = parser.parse_args()
    if args.calls is None:
        args.calls = 8 if args.freeswitch else 10
    return freeswitch_mode(args) if args.freeswitch else call_mode(args)


if __name__ == "__main__":
    sys.exit(main())
