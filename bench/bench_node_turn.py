"""Turn gap of the real node, as ``voicegate call`` sees it: the caller's last word → the first
agent audio, with the node started as an operator starts it (``voicegate run``, patched,
espeak-ng, faster-whisper with the real base model, keyword mode).

    .venv/bin/python bench/bench_node_turn.py --calls 10
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.test_node_process import EMERGENCY, NodeProcess, operator_sets_up  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--say", default=EMERGENCY)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="bench-node-")) / "data"
    operator_sets_up(data)
    node = NodeProcess.start(data)
    gaps: list[float] = []
    try:
        for _ in range(args.calls):
            out = node.call(args.say).stdout
            match = re.search(r"Antwortzeit nach Äußerung 1 [^:]*: ([0-9]+,[0-9]+) s", out)
            if match:
                gaps.append(float(match.group(1).replace(",", ".")))
    finally:
        node.stop()
    gaps.sort()
    p95 = gaps[min(len(gaps) - 1, round(0.95 * (len(gaps) - 1)))] if gaps else float("nan")
    print(f"turn gap over {len(gaps)}/{args.calls} answered calls: "
          f"p50 {statistics.median(gaps):.2f} s, p95 {p95:.2f} s, "
          f"min {gaps[0]:.2f} s, max {gaps[-1]:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
