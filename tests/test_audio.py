"""Audio plumbing: frames, resampling, WAV files, G.711 and the two-channel call recording."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from media import g711
from media.audio import (
    FRAME_MS,
    FrameStream,
    StreamResampler,
    frame_bytes,
    read_wav,
    resample,
    rms_dbfs,
    silence,
    split_frames,
    to_rate,
    write_wav,
)
from media.engines import Audio
from media.recording import CallRecorder
from tests.speech import german_speech


def tone(freq: float, ms: int, rate: int, amplitude: float = 10000.0) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def dominant_hz(pcm: bytes, rate: int) -> float:
    x = samples(pcm)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / rate)[np.argmax(spectrum)])


# ---------------------------------------------------------------------------- frames

def test_frame_sizes_match_the_channel_rates():
    assert FRAME_MS == 20
    assert frame_bytes(8000) == 320
    assert frame_bytes(16000) == 640
    assert len(silence(20, 8000)) == 320 and set(silence(20, 8000)) == {0}


def test_split_frames_pads_the_last_frame_with_silence():
    pcm = bytes(range(256)) * 3  # 768 bytes: two full 8 kHz frames and 128 bytes
    frames = split_frames(pcm, 8000)
    assert [len(f) for f in frames] == [320, 320, 320]
    assert b"".join(frames)[:768] == pcm
    assert frames[-1][128:] == bytes(192)
    assert split_frames(b"", 8000) == []


def test_frame_stream_turns_odd_sized_pieces_into_exact_frames():
    pcm = tone(440, 1000, 8000)
    stream = FrameStream(8000)
    frames: list[bytes] = []
    pieces = [7, 333, 1, 160, 999, 4000]  # sizes not aligned to frames or even to samples
    pos = 0
    for size in pieces * 10:
        frames += stream.push(pcm[pos:pos + size])
        pos += size
        if pos >= len(pcm):
            break
    last = stream.flush()
    if last is not None:
        frames.append(last)
    assert all(len(f) == 320 for f in frames)
    assert b"".join(frames)[: len(pcm)] == pcm
    assert stream.pending == 0 and stream.flush() is None


# ---------------------------------------------------------------------------- resampling

@pytest.mark.parametrize(("src", "dst"), [(8000, 16000), (16000, 8000), (22050, 8000),
                                          (48000, 16000)])
def test_resampling_keeps_duration_and_pitch(src: int, dst: int):
    out = resample(tone(1000, 500, src), src, dst)
    assert len(out) // 2 == pytest.approx(dst / 2, abs=2)
    assert dominant_hz(out, dst) == pytest.approx(1000, abs=5)


def test_resampling_to_8k_removes_what_the_phone_cannot_carry():
    """A 6 kHz tone is above 8 kHz's Nyquist limit: a real resampler filters it out instead of
    folding it back as a 2 kHz whistle."""
    out = resample(tone(6000, 500, 16000), 16000, 8000)
    assert rms_dbfs(out) < -60


def test_resample_round_trip_8k_16k_8k_is_nearly_lossless():
    speech = german_speech("Guten Tag, hier ist die Praxis Doktor Weber.")
    back = resample(resample(speech.pcm, 8000, 16000), 16000, 8000)
    error = samples(back) - samples(speech.pcm)
    snr = 10 * np.log10(np.mean(samples(speech.pcm) ** 2) / np.mean(error**2))
    assert len(back) == len(speech.pcm)
    assert snr > 30


def test_resample_is_the_identity_at_equal_rates_and_to_rate_keeps_the_object():
    pcm = tone(440, 100, 8000)
    assert resample(pcm, 8000, 8000) == pcm
    audio = Audio(pcm, 8000)
    assert to_rate(audio, 8000) is audio
    up = to_rate(audio, 16000)
    assert up.sample_rate == 16000 and up.duration_s == pytest.approx(0.1, abs=0.001)


def test_stream_resampler_output_matches_resampling_the_whole():
    pcm = tone(700, 1000, 22050)
    whole = samples(resample(pcm, 22050, 8000))
    stream = StreamResampler(22050, 8000)
    pieces = [pcm[i:i + 882] for i in range(0, len(pcm), 882)]
    out = b"".join(stream.push(p, last=i == len(pieces) - 1) for i, p in enumerate(pieces))
    streamed = samples(out)
    assert streamed.size == pytest.approx(whole.size, abs=2)
    n = min(streamed.size, whole.size) - 100
    assert np.max(np.abs(streamed[100:n] - whole[100:n])) < 50  # no clicks at the joins


def test_rms_dbfs():
    assert rms_dbfs(silence(100, 8000)) == -120.0
    assert rms_dbfs(b"") == -120.0
    assert rms_dbfs(tone(1000, 100, 8000, amplitude=32767)) == pytest.approx(-3.01, abs=0.05)
    assert rms_dbfs(tone(1000, 100, 8000, amplitude=3277)) == pytest.approx(-23.0, abs=0.1)


# ---------------------------------------------------------------------------- WAV files

def test_wav_round_trip(tmp_path: Path):
    speech = german_speech("Vielen Dank für Ihren Anruf.", 16000)
    write_wav(tmp_path / "a.wav", speech)
    assert read_wav(tmp_path / "a.wav") == speech


def test_read_wav_mixes_stereo_down_and_converts_other_widths(tmp_path: Path):
    left = np.full(800, 10000, dtype="<i2")
    right = np.full(800, -2000, dtype="<i2")
    with wave.open(str(tmp_path / "stereo.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.column_stack([left, right]).tobytes())
    audio = read_wav(tmp_path / "stereo.wav")
    assert audio.sample_rate == 16000
    assert set(samples(audio.pcm)) == {4000}

    with wave.open(str(tmp_path / "u8.wav"), "wb") as w:  # 8-bit WAV is unsigned
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(bytes([128, 255, 0]))
    assert list(samples(read_wav(tmp_path / "u8.wav").pcm)) == [0, 127 * 256, -128 * 256]


# ---------------------------------------------------------------------------- G.711

def test_g711_known_code_words():
    pcm = np.array([0, 1000, -1000, 32767, -32768], dtype="<i2").tobytes()
    assert g711.ulaw_encode(pcm) == bytes.fromhex("ffce4e8000")
    assert g711.alaw_encode(pcm) == bytes.fromhex("d5fa7aaa2a")
    ulaw = samples(g711.ulaw_decode(bytes([0x00, 0x7F, 0x80, 0xFF])))
    assert list(ulaw) == [-32124, 0, 32124, 0]
    alaw = samples(g711.alaw_decode(bytes([0xD5, 0x55, 0xAA, 0x2A])))
    assert list(alaw) == [8, -8, 32256, -32256]


@pytest.mark.parametrize("codec", ["PCMU", "PCMA"])
def test_g711_round_trip_error_stays_within_the_segment_step(codec):
    """G.711 keeps ~13 bits: every sample comes back within half a quantisation step, which is
    under 4 % of the value (plus a small absolute step near zero)."""
    pcm = np.arange(-32768, 32768, dtype=np.int32).astype("<i2")
    back = samples(g711.decode(g711.encode(pcm.tobytes(), codec), codec))
    x = pcm.astype(np.float64)
    error = np.abs(back - x)
    assert np.all(error <= np.maximum(0.04 * np.abs(x), 40))
    # encoding is idempotent on decoded values: a second round trip changes nothing
    again = samples(g711.decode(g711.encode(back.astype("<i2").tobytes(), codec), codec))
    assert np.array_equal(again, back)


@pytest.mark.parametrize("codec", ["PCMU", "PCMA"])
def test_g711_speech_keeps_telephone_quality(codec):
    speech = german_speech("Ich möchte meinen Termin am Dienstag absagen.")
    coded = g711.encode(speech.pcm, codec)
    assert len(coded) == len(speech.pcm) // 2
    back = samples(g711.decode(coded, codec))
    x = samples(speech.pcm)
    snr = 10 * np.log10(np.mean(x**2) / np.mean((back - x) ** 2))
    assert snr > 30  # G.711's ~38 dB SQNR on speech


def test_g711_rejects_an_unknown_codec_and_odd_pcm():
    with pytest.raises(ValueError):
        g711.encode(b"\x00\x00", "G729")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        g711.ulaw_encode(b"\x00")


# ---------------------------------------------------------------------------- call recording

def read_stereo(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 2 and w.getsampwidth() == 2
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    return data[:, 0], data[:, 1], rate


def test_recording_puts_the_agent_on_the_right_channel_at_the_time_it_spoke(tmp_path: Path):
    caller = german_speech("Hallo, ich hätte gern einen Termin.")
    agent = german_speech("Gern, an welchem Tag?")
    caller_frames = split_frames(caller.pcm + silence(3000, 8000), 8000)
    agent_frames = split_frames(agent.pcm, 8000)
    start = 150  # the agent starts answering 3 s into the call (frame 150)
    path = tmp_path / "call.wav"
    recorder = CallRecorder(path, 8000)
    for i, frame in enumerate(caller_frames):
        if start <= i < start + len(agent_frames):  # paced: one agent frame per 20 ms
            recorder.add_agent(agent_frames[i - start])  # sent at 20 * i ms
        recorder.add_caller(frame)  # the caller frame covering [20 * i, 20 * i + 20) ms
    duration = recorder.close()

    left, right, rate = read_stereo(path)
    assert rate == 8000
    assert duration == pytest.approx(len(caller_frames) * 0.02)
    assert left.size == len(caller_frames) * 160
    offset = start * 160
    assert np.array_equal(left[: len(caller.pcm) // 2], samples(caller.pcm))
    assert not right[:offset].any()  # silence until the agent spoke
    assert np.array_equal(right[offset: offset + len(agent.pcm) // 2], samples(agent.pcm))
    assert not right[offset + len(agent_frames) * 160:].any()


def test_recording_agent_audio_sent_in_a_burst_plays_in_sequence(tmp_path: Path):
    """A burst of agent frames is laid out one after another, not on top of each other, and
    the goodbye sent after the caller's last frame is kept (silence on the left)."""
    path = tmp_path / "burst.wav"
    a = tone(500, 200, 8000)
    b = tone(900, 200, 8000)
    with CallRecorder(path, 8000) as recorder:
        for _ in range(10):
            recorder.add_caller(silence(20, 8000))
        recorder.add_agent(a)
        recorder.add_agent(b)
    left, right, _ = read_stereo(path)
    assert left.size == right.size == 1600 + 3200  # 200 ms of caller, then the agent's 400 ms
    assert not right[:1600].any()
    assert np.array_equal(right[1600:3200], samples(a))
    assert np.array_equal(right[3200:4800], samples(b))


def test_recording_is_readable_while_the_call_runs(tmp_path: Path):
    """A crash mid-call leaves a valid WAV with everything up to the last flush."""
    path = tmp_path / "live.wav"
    recorder = CallRecorder(path, 8000, flush_ms=500)
    frame = tone(300, 20, 8000)
    for _ in range(130):  # 2.6 s
        recorder.add_caller(frame)
    left, right, rate = read_stereo(path)  # the file as another process would see it now
    assert rate == 8000
    assert left.size == int(2.5 * 8000)  # 0.5 s blocks are on disk, the rest is buffered
    assert left.size == right.size
    assert recorder.close() == pytest.approx(2.6)
    left, _, _ = read_stereo(path)
    assert left.size == int(2.6 * 8000)
