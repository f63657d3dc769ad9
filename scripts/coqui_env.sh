#!/usr/bin/env bash
# Build the separate Python environment that runs Coqui TTS (.venv-coqui by default).
#
# coqui-tts needs torchaudio, and PyPI's torchaudio wheels only load beside the matching PyPI
# torch build — not beside the node's CPU torch 2.13 in .venv. So Coqui lives in its own venv
# and media/tts/coqui.py talks to it through a small worker process (media/tts/coqui_worker.py).
# About 7 GB and 4–5 minutes (see ../shared/ENGINES.md). Idempotent: reruns only verify.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${1:-$ROOT/.venv-coqui}"
PYTHON="${PYTHON:-python3.11}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
if ! "$VENV/bin/python" -c "import TTS.api" 2>/dev/null; then
    # six: used by coqui-tts but not declared by it.
    "$VENV/bin/python" -m pip install "torch==2.8.0" "torchaudio==2.8.0" "coqui-tts" six
fi
"$VENV/bin/python" -c "import TTS, torch, torchaudio; print('coqui-tts', TTS.__version__, 'torch', torch.__version__)"
