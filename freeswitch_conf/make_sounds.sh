#!/bin/sh
# Generates the German fallback announcements (8 kHz, mono, 16-bit WAV) with espeak-ng + sox.
# Usage: freeswitch_conf/make_sounds.sh [OUTPUT_DIR]   (default: freeswitch_conf/sounds/de)
set -eu

out="${1:-$(dirname "$0")/sounds/de}"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

say() {  # say NAME TEXT
    espeak-ng -v de -s 150 -w "$tmp/$1.raw.wav" "$2"
    sox "$tmp/$1.raw.wav" -r 8000 -c 1 -b 16 -e signed-integer "$out/$1.wav" \
        gain -n -3 pad 0.3 0.3
}

say entschuldigung "Entschuldigung, unser Telefonassistent ist gerade nicht erreichbar. \
Wir verbinden Sie mit einem Mitarbeiter."
say niemand_erreichbar "Leider ist gerade niemand erreichbar. Bitte hinterlassen Sie nach dem \
Signalton Ihren Namen, Ihre Rückrufnummer und Ihr Anliegen."
