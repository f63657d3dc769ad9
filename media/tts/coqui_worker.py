"""Coqui TTS worker: runs inside the separate Coqui environment (``scripts/coqui_env.sh``).

Loads one model once, then answers JSON lines on stdin with JSON lines on stdout::

    → {"id": 1, "text": "Guten Tag.", "speaker": "", "language": "de"}
    ← {"id": 1, "sample_rate": 22050, "pcm": "<base64 L16 mono>"}   or   {"id": 1, "error": "…"}

The first line it writes is ``{"ready": true, "sample_rate": …}`` (or ``{"error": …}`` and exit
code 2). Coqui prints progress to stdout, so the protocol uses a private copy of the stdout file
descriptor and everything else goes to stderr. Standard library + Coqui only: this file must not
import the node's packages (they live in another environment).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys


def _protocol_stream():
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # library prints now land on stderr
    sys.stdout = sys.stderr
    return proto


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    out = _protocol_stream()

    def send(payload: dict) -> None:
        out.write(json.dumps(payload) + "\n")
        out.flush()

    try:
        import numpy as np
        import torch
        from TTS.api import TTS

        if args.threads > 0:
            torch.set_num_threads(args.threads)
        tts = TTS(model_path=args.model, config_path=args.config, progress_bar=False)
        tts.to(args.device)
        rate = int(tts.synthesizer.output_sample_rate)
    except Exception as exc:  # report any load failure to the node, then stop
        send({"error": f"{type(exc).__name__}: {exc}"})
        return 2
    send({"ready": True, "sample_rate": rate})

    for line in sys.stdin:
        if not line.strip():
            continue
        request: dict = {}
        try:
            request = json.loads(line)
            kwargs = {}
            if tts.is_multi_speaker:
                kwargs["speaker"] = request.get("speaker") or tts.speakers[0]
            if tts.is_multi_lingual:
                kwargs["language"] = request.get("language") or "de"
            wav = np.asarray(tts.tts(text=request["text"], **kwargs), dtype=np.float32)
            pcm = (np.clip(wav, -1.0, 1.0) * 32767).astype("<i2").tobytes()
            send({"id": request.get("id"), "sample_rate": rate,
                  "pcm": base64.b64encode(pcm).decode("ascii")})
        except Exception as exc:  # one bad sentence must not kill the worker
            send({"id": request.get("id"), "error": f"{type(exc).__name__}: {exc}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
