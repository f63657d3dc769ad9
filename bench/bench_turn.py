"""One German conversation turn through the real components, with the turn gap broken down.

Caller audio (espeak-ng German + line noise, 8 kHz) → webrtcvad Endpointer (media.vad) → Whisper
(a tiny random model with real whisper-tiny dimensions, decoding a fixed number of tokens as a
real utterance would) → the official ollama client against the scripted Ollama-protocol server
(tests/ollama_server.py) → SentenceSplitter → espeak-ng → 8 kHz first frame.

Printed per stage (median of ``--turns`` turns): endpoint silence, STT, LLM time-to-first-token
and to the first complete sentence, TTS time-to-first-audio, our overhead (everything else), and
total caller-silence → first agent audio. The scripted server has no model, so its "LLM" figures
are HTTP + client cost unless ``--llm-ttft`` / ``--tokens-per-s`` simulate one. Also prints the
VAD real-time factor. ``--compare-stt`` times openai-whisper against faster-whisper on the same
weights instead. Run from the repository root:

    .venv/bin/python -m bench.bench_turn [--stt faster-whisper] [--size tiny] [--turns 5]
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import tempfile
import threading
import time
from pathlib import Path

from media.audio import split_frames, to_rate
from media.engines import Audio, ChatMessage, SpeechToText
from media.llm.ollama import OllamaLLM
from media.sentences import SentenceSplitter
from media.tts.espeak import EspeakTTS
from media.vad import Endpointer, UtteranceEnded
from tests.ollama_server import DEFAULT_MODEL, OllamaServer, Scripted
from tests.speech import concat, german_speech, pause, with_noise
from tests.tiny_models import faster_whisper_model, whisper_checkpoint

RATE = 8000
CALLER = "Guten Tag, ich hätte gern einen Termin am Montag um zehn Uhr."
REPLY = ("Sehr gern, am Montag um 10:00 Uhr ist noch ein Termin frei. "
         "Darf ich Ihren Namen notieren?")
SYSTEM = ChatMessage("system", "Du bist die freundliche Telefonassistenz der Praxis Dr. Weber.")


def make_stt(backend: str, size: str, folder: Path, tokens: int, threads: int) -> SpeechToText:
    if backend == "whisper":
        from media.stt.whisper import WhisperSTT

        path = whisper_checkpoint(folder, size=size, eot_bias=0.0)
        return WhisperSTT(path, threads=threads, max_new_tokens=tokens)
    from media.stt.faster_whisper import FasterWhisperSTT

    path = faster_whisper_model(folder / f"fw-{size}", size=size, eot_bias=0.0)
    return FasterWhisperSTT(path, threads=threads, max_new_tokens=tokens)


def caller_audio(snr_db: float) -> Audio:
    speech = concat(pause(400, RATE), german_speech(CALLER, RATE), pause(1500, RATE))
    return with_noise(speech, snr_db=snr_db, seed=7)


def one_turn(stt: SpeechToText, llm: OllamaLLM, tts: EspeakTTS, audio: Audio,
             silence_ms: int) -> tuple[dict[str, float], float]:
    """Runs one turn; returns the stage figures (ms) and the VAD's CPU seconds."""
    endpointer = Endpointer(RATE, silence_ms=silence_ms)
    vad_s = 0.0
    ended: UtteranceEnded | None = None
    for frame in split_frames(audio.pcm, RATE):
        start = time.perf_counter()
        events = endpointer.feed(frame)
        vad_s += time.perf_counter() - start
        ended = next((e for e in events if isinstance(e, UtteranceEnded)), None)
        if ended:
            break
    if ended is None:
        raise SystemExit("the endpointer found no end of the utterance")

    t_end = time.perf_counter()  # the endpointer decided: the turn is the agent's
    transcript = stt.transcribe(ended.audio)
    t_stt = time.perf_counter()
    sentences: queue.Queue[tuple[str, float] | None] = queue.Queue()
    first_token: list[float] = []

    def stream_llm() -> None:  # as in the call path: the LLM keeps streaming while TTS speaks
        splitter = SentenceSplitter()
        for chunk in llm.chat([SYSTEM, ChatMessage("user", transcript.text or CALLER)]):
            if chunk.text and not first_token:
                first_token.append(time.perf_counter())
            for sentence in splitter.feed(chunk.text):
                sentences.put((sentence, time.perf_counter()))
        for sentence in splitter.flush():
            sentences.put((sentence, time.perf_counter()))
        sentences.put(None)

    reader = threading.Thread(target=stream_llm)
    reader.start()
    item = sentences.get()
    assert item is not None
    first_sentence, t_sentence = item
    t_tts_start = time.perf_counter()
    spoken = tts.synthesize(first_sentence)
    t_tts = time.perf_counter()
    first_frame = split_frames(to_rate(spoken, RATE).pcm, RATE)[0]
    t_audio = time.perf_counter()
    assert first_frame
    reader.join()

    ms = {
        "endpoint silence": ended.ended_at_ms - ended.last_speech_ms,
        "STT": (t_stt - t_end) * 1000,
        "LLM time to first token": (first_token[0] - t_stt) * 1000,
        "LLM time to first sentence": (t_sentence - t_stt) * 1000,
        "TTS time to first audio": (t_tts - t_tts_start) * 1000,
    }
    agent_side = (t_audio - t_end) * 1000
    ms["our overhead"] = agent_side - ms["STT"] - ms["LLM time to first sentence"] - ms[
        "TTS time to first audio"]
    ms["total caller silence -> first agent audio"] = ms["endpoint silence"] + agent_side
    return ms, vad_s


def bench_turn(args: argparse.Namespace) -> None:
    audio = caller_audio(args.snr)
    tts = EspeakTTS()
    delay = 1.0 / args.tokens_per_s if args.tokens_per_s else 0.0
    answer = Scripted(text=REPLY, first_token_delay_s=args.llm_ttft, chunk_delay_s=delay)
    with tempfile.TemporaryDirectory() as tmp, OllamaServer(default=answer) as server:
        stt = make_stt(args.stt, args.size, Path(tmp), args.tokens, args.threads)
        llm = OllamaLLM(DEFAULT_MODEL, host=server.url)
        one_turn(stt, llm, tts, audio, args.silence_ms)  # warm-up: first-call costs
        runs = [one_turn(stt, llm, tts, audio, args.silence_ms) for _ in range(args.turns)]
        llm.close()
    print(f"One German turn, median of {args.turns} (STT {args.stt}, {args.size} dims, "
          f"{args.tokens} tokens, {args.threads} threads; LLM: scripted Ollama server, "
          f"ttft {args.llm_ttft * 1000:.0f} ms simulated; TTS espeak-ng):")
    print(f"  {'':<44} {'median':>8}    {'min':>8}")
    for key in runs[0][0]:
        values = [r[0][key] for r in runs]
        print(f"  {key:<44} {statistics.median(values):8.1f} ms {min(values):8.1f} ms")
    vad_s = statistics.median(r[1] for r in runs)
    frames_s = audio.duration_s - 1.5 + args.silence_ms / 1000  # audio fed until the end
    print(f"  VAD: {vad_s * 1000:.2f} ms CPU for {frames_s:.1f} s of audio "
          f"(real-time factor {vad_s / frames_s:.5f}: one core sustains "
          f"~{frames_s / vad_s:.0f} calls' VAD)")


def compare_stt(args: argparse.Namespace) -> None:
    """Both backends on the same weights, runs interleaved so machine load hits both alike."""
    audio = german_speech(CALLER, RATE)
    print(f"STT on the same random weights, {audio.duration_s:.1f} s German utterance, "
          f"{args.tokens} tokens, {args.threads} threads, {args.turns} interleaved runs:")
    with tempfile.TemporaryDirectory() as tmp:
        engines: dict[tuple[str, str], SpeechToText] = {}
        for size in args.sizes.split(","):
            for backend in ("whisper", "faster-whisper"):
                engine = make_stt(backend, size, Path(tmp) / backend, args.tokens, args.threads)
                engine.transcribe(audio)  # warm-up
                engines[(size, backend)] = engine
        times: dict[tuple[str, str], list[float]] = {key: [] for key in engines}
        for _ in range(args.turns):
            for key, engine in engines.items():
                start = time.perf_counter()
                engine.transcribe(audio)
                times[key].append(time.perf_counter() - start)
    for (size, backend), values in times.items():
        print(f"  {size:<6} {backend:<15} transcribe median {statistics.median(values) * 1000:7.1f}"
              f" ms, min {min(values) * 1000:7.1f} ms")


def _load() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stt", choices=("faster-whisper", "whisper"), default="faster-whisper")
    parser.add_argument("--size", choices=("micro", "tiny", "base", "small"), default="tiny")
    parser.add_argument("--sizes", default="micro,tiny", help="--compare-stt: model sizes")
    parser.add_argument("--tokens", type=int, default=16, help="tokens decoded per utterance")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--silence-ms", type=int, default=600, help="endpointing silence")
    parser.add_argument("--snr", type=float, default=20.0, help="line noise, dB below speech")
    parser.add_argument("--llm-ttft", type=float, default=0.0, help="simulated model TTFT, s")
    parser.add_argument("--tokens-per-s", type=float, default=0.0,
                        help="simulated model speed (0: as fast as the server can send)")
    parser.add_argument("--compare-stt", action="store_true",
                        help="time openai-whisper vs faster-whisper instead")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, {_load()} before the run")
    if args.compare_stt:
        compare_stt(args)
    else:
        bench_turn(args)


if __name__ == "__main__":
    main()
