"""What turn-taking costs per call: webrtcvad + Endpointer on espeak-ng German speech with noise.

Builds a caller stream (sentences, pauses of 0.3-1.5 s, breaths, clicks, line noise at the given
SNR), feeds it frame by frame through one Endpointer, and prints the per-frame cost and how many
calls' VAD one core sustains in real time. Run from the repository root:

    .venv/bin/python -m bench.bench_vad [--rate 8000] [--snr 15] [--minutes 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

from media.audio import FRAME_MS, split_frames
from media.engines import Audio
from media.vad import Endpointer, SpeechStarted, UtteranceEnded
from tests.speech import breath, click, concat, german_speech, pause, with_noise

SENTENCES = (
    "Guten Tag, ich möchte bitte einen Termin vereinbaren.",
    "Ähm",
    "Am liebsten nächste Woche am Dienstag.",
    "Ja, genau.",
    "Können Sie mich zurückrufen? Meine Nummer ist null drei null, vier fünf sechs.",
    "Nein, das passt leider nicht.",
    "Vielen Dank, auf Wiederhören.",
)
PAUSES_MS = (300, 1500, 300, 900, 1200, 1000, 1000)


def caller_stream(rate: int, minutes: float, snr_db: float) -> tuple[Audio, int]:
    """A call's caller side, and how many turns (pauses > 600 ms end one) it holds."""
    block = [pause(800, rate)]
    turns = 0
    for i, (text, gap) in enumerate(zip(SENTENCES, PAUSES_MS, strict=True)):
        block.append(german_speech(text, rate))
        if i % 3 == 1:
            block += [pause(200, rate), breath(400, rate, level_dbfs=-32, seed=i)]
        if i % 3 == 2:
            block += [pause(100, rate), click(rate)]
        block.append(pause(gap, rate))
        turns += gap > 600
    one = concat(*block)
    repeats = max(1, round(minutes * 60 / one.duration_s))
    return with_noise(concat(*[one] * repeats), snr_db, seed=1), turns * repeats


def measure(frames: list[bytes], rate: int, repeat: int) -> dict[str, float]:
    import webrtcvad

    best_vad = best_ep = float("inf")
    per_frame_ns: list[int] = []
    events: list[object] = []
    for _ in range(repeat):
        vad = webrtcvad.Vad(2)
        start = time.perf_counter()
        for frame in frames:
            vad.is_speech(frame, rate)
        best_vad = min(best_vad, time.perf_counter() - start)

        ep = Endpointer(rate)
        feed = ep.feed
        start = time.perf_counter()
        for frame in frames:
            feed(frame)
        best_ep = min(best_ep, time.perf_counter() - start)

    ep = Endpointer(rate)  # once more, timing each frame to see the spikes
    clock = time.perf_counter_ns
    for frame in frames:
        t0 = clock()
        events += ep.feed(frame)
        per_frame_ns.append(clock() - t0)
    per_frame_ns.sort()
    n = len(frames)
    return {
        "vad_us": best_vad / n * 1e6,
        "endpointer_us": best_ep / n * 1e6,
        "p50_us": per_frame_ns[n // 2] / 1000,
        "p99_us": per_frame_ns[int(n * 0.99)] / 1000,
        "max_us": per_frame_ns[-1] / 1000,
        "mean_us": statistics.fmean(per_frame_ns) / 1000,
        "starts": sum(isinstance(e, SpeechStarted) for e in events),
        "ends": sum(isinstance(e, UtteranceEnded) for e in events),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=8000)
    parser.add_argument("--snr", type=float, default=15.0)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    audio, turns = caller_stream(args.rate, args.minutes, args.snr)
    frames = split_frames(audio.pcm, args.rate)
    r = measure(frames, args.rate, args.repeat)
    frame_us = FRAME_MS * 1000
    print(f"caller audio: {audio.duration_s:.0f} s at {args.rate} Hz, noise {args.snr:g} dB SNR, "
          f"{len(frames)} frames, {turns} turns in the script")
    print(f"turns found: {r['starts']} started, {r['ends']} ended")
    print(f"webrtcvad alone      : {r['vad_us']:6.2f} µs/frame")
    print(f"VAD + endpointer     : {r['endpointer_us']:6.2f} µs/frame "
          f"(per frame timed: p50 {r['p50_us']:.1f}, p99 {r['p99_us']:.1f}, "
          f"max {r['max_us']:.0f} µs)")
    rtf = r["endpointer_us"] / frame_us
    print(f"real-time factor     : {rtf:.5f} (one call's VAD uses {rtf * 100:.3f} % of a core)")
    print(f"calls per core       : {int(1 / rtf):,} simultaneous calls' VAD")


if __name__ == "__main__":
    main()
