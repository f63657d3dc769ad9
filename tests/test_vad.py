"""Turn-taking on real speech: espeak-ng German sentences, pauses, noise, breaths and clicks."""

from __future__ import annotations

import pytest

from media.audio import split_frames
from media.engines import Audio
from media.vad import Endpointer, SpeechStarted, UtteranceEnded, VadEvent
from tests.speech import (
    breath,
    click,
    concat,
    duration_ms,
    german_speech,
    noise,
    noise_burst,
    pause,
    with_noise,
)

FIRST = "Guten Tag, ich möchte bitte einen Termin vereinbaren."
SECOND = "Am liebsten nächste Woche am Dienstag."


def run(audio: Audio, endpointer: Endpointer | None = None,
        **options: int | float) -> list[tuple[int, VadEvent]]:
    """Feed ``audio`` frame by frame; returns (stream time when the event came out, event)."""
    ep = endpointer or Endpointer(audio.sample_rate, **options)
    events = []
    for i, frame in enumerate(split_frames(audio.pcm, audio.sample_rate)):
        events += [((i + 1) * 20, event) for event in ep.feed(frame)]
    return events


def kinds(events: list[tuple[int, VadEvent]]) -> list[str]:
    return [type(e).__name__ for _, e in events]


def utterances(events: list[tuple[int, VadEvent]]) -> list[UtteranceEnded]:
    return [e for _, e in events if isinstance(e, UtteranceEnded)]


# ---------------------------------------------------------------------------- endpointing

def test_utterance_ends_after_the_silence_threshold_not_in_a_short_pause():
    first, second = german_speech(FIRST), german_speech(SECOND)
    call = with_noise(concat(pause(1000), first, pause(300), second, pause(1500)), 15, seed=1)
    speech_end = 1000 + duration_ms(first) + 300 + duration_ms(second)

    events = run(call, silence_ms=600)

    assert kinds(events) == ["SpeechStarted", "UtteranceEnded"]  # the 300 ms pause didn't cut
    emitted_at, ended = events[1]
    assert ended.ended_at_ms == emitted_at
    assert ended.ended_at_ms - ended.last_speech_ms == 600
    # the last speech frame is found within ~100 ms of where the sentence really ends: a fading
    # final consonant sinks into the noise, webrtcvad's hangover runs on a little
    assert abs(ended.last_speech_ms - speech_end) <= 120
    assert ended.started_at_ms == pytest.approx(1000, abs=40)
    # the audio starts 200 ms before the onset and holds all of the speech, then stops
    audio_end = ended.started_at_ms - 200 + duration_ms(ended.audio)
    assert speech_end <= audio_end <= speech_end + 220


def test_a_pause_longer_than_the_threshold_ends_the_turn_unless_the_agent_waits_longer():
    first, second = german_speech(FIRST), german_speech(SECOND)
    call = with_noise(concat(pause(800), first, pause(1000), second, pause(1600)), 15, seed=2)

    assert kinds(run(call, silence_ms=600)) == ["SpeechStarted", "UtteranceEnded"] * 2
    assert kinds(run(call, silence_ms=1200)) == ["SpeechStarted", "UtteranceEnded"]


def test_uhm_then_a_thinking_pause_stays_one_utterance():
    """ "Ähm ... am liebsten nächste Woche": the hesitation starts the turn (the caller has the
    floor), and the pause after it does not hand the turn to the agent."""
    uhm, rest = german_speech("Ähm"), german_speech(SECOND)
    call = with_noise(concat(pause(1000), uhm, pause(450), rest, pause(1200)), 15, seed=3)

    events = run(call)

    assert kinds(events) == ["SpeechStarted", "UtteranceEnded"]
    started, ended = events[0][1], events[1][1]
    assert isinstance(started, SpeechStarted)
    assert started.at_ms == pytest.approx(1000, abs=40)
    assert duration_ms(ended.audio) >= duration_ms(uhm) + 450 + duration_ms(rest)


def test_utterance_audio_is_the_speech_with_pre_roll_and_a_short_tail():
    sentence = german_speech(FIRST)
    call = concat(pause(1000), sentence, pause(1000))

    (_, started), (_, ended) = run(call, pre_roll_ms=200)

    assert isinstance(started, SpeechStarted) and isinstance(ended, UtteranceEnded)
    begin = (started.at_ms - 200) * 16  # bytes at 8 kHz
    assert ended.audio.pcm == call.pcm[begin: begin + len(ended.audio.pcm)]
    trailing = duration_ms(ended.audio) - (ended.last_speech_ms - started.at_ms + 200)
    assert trailing == 100


@pytest.mark.parametrize("color", ["white", "pink"])
def test_turns_are_found_on_a_very_noisy_line(color: str):
    """At 10 dB SNR webrtcvad calls most noise speech; the noise-floor gate still ends turns."""
    first, second = german_speech(FIRST), german_speech(SECOND)
    call = with_noise(concat(pause(1500), first, pause(1200), second, pause(1200)), 10,
                      seed=12, color=color)
    events = run(call)
    assert kinds(events) == ["SpeechStarted", "UtteranceEnded"] * 2
    ends = [1500 + duration_ms(first), 1500 + duration_ms(first) + 1200 + duration_ms(second)]
    for ended, speech_end in zip(utterances(events), ends, strict=True):
        assert abs(ended.last_speech_ms - speech_end) <= 150


def test_sixteen_khz_wideband():
    call = with_noise(concat(pause(1000, 16000), german_speech(FIRST, 16000),
                             pause(1000, 16000)), 15, seed=4)
    events = run(call)
    assert kinds(events) == ["SpeechStarted", "UtteranceEnded"]
    assert utterances(events)[0].audio.sample_rate == 16000


# ---------------------------------------------------------------------------- not speech

@pytest.mark.parametrize(("name", "sound"), [
    ("breath", breath(400, level_dbfs=-30)),
    ("deep breath", breath(800, level_dbfs=-25, seed=5)),
    ("click", click()),
    ("three clicks", concat(click(), pause(300), click(), pause(100), click())),
    ("knock", noise_burst(80, level_dbfs=-12)),
    ("long rustle", noise_burst(300, level_dbfs=-25, seed=6)),
])
def test_breaths_clicks_and_noise_do_not_start_a_turn(name: str, sound: Audio):
    call = with_noise(concat(pause(1000), sound, pause(1000)), 30, seed=7)
    assert run(call) == [], name


def test_a_noisy_line_alone_starts_no_turn():
    for color in ("white", "pink"):
        line = noise(8000, level_dbfs=-30, seed=8, color=color)
        assert run(line) == [], color


def test_a_breath_before_speaking_does_not_delay_or_split_the_turn():
    sentence = german_speech(SECOND)
    call = with_noise(concat(pause(800), breath(400, level_dbfs=-30), pause(200), sentence,
                             pause(1000)), 20, seed=9)
    events = run(call)
    assert kinds(events) == ["SpeechStarted", "UtteranceEnded"]
    onset = 800 + 400 + 200
    assert events[0][0] - onset <= 200


# ---------------------------------------------------------------------------- barge-in

@pytest.mark.parametrize("text", [
    "Moment, das stimmt nicht.",
    "Nein, ich wollte etwas anderes.",
    "Schönen Tag noch.",
    "Ja.",
    "Sie haben mich falsch verstanden.",
])
@pytest.mark.parametrize("color", ["white", "pink"])
def test_speech_is_detected_within_200_ms_of_its_onset_for_barge_in(text: str, color: str):
    onset = 1500
    call = with_noise(concat(pause(onset), german_speech(text), pause(800)), 15, seed=10,
                      color=color)
    events = run(call)
    emitted_at, started = events[0]
    assert isinstance(started, SpeechStarted)
    assert emitted_at - onset <= 200  # frames fed after the onset before the event came out
    assert started.detected_at_ms == emitted_at
    assert abs(started.at_ms - onset) <= 60


@pytest.mark.parametrize("text", ["Hallo?", "Halt, stopp!", "Fünf Uhr passt mir besser.",
                                  "Zwei Personen bitte."])
def test_an_unvoiced_first_sound_delays_detection_only_by_its_own_length(text: str):
    """webrtcvad does not hear an /h/, /f/ or /ts/ under 15 dB of noise; detection counts from
    the vowel after it (40-100 ms later), then takes as long as for any other word."""
    onset = 1500
    call = with_noise(concat(pause(onset), german_speech(text), pause(800)), 15, seed=10,
                      color="pink")
    emitted_at, started = run(call)[0]
    assert isinstance(started, SpeechStarted)
    assert 0 <= started.at_ms - onset <= 100
    assert emitted_at - started.at_ms <= 160
    assert emitted_at - onset <= 240


# ---------------------------------------------------------------------------- long turns

def test_a_monologue_is_delivered_in_bounded_pieces():
    third = "Und dann noch eine Frage zur Rechnung."
    sentences = [german_speech(t) for t in (FIRST, SECOND, third)]
    parts = [pause(500)]
    for _ in range(3):
        for s in sentences:
            parts += [s, pause(250)]  # short breaks between sentences: one long turn
    call = with_noise(concat(*parts, pause(1000)), 20, seed=11)

    events = run(call, max_utterance_s=4.0)

    names = kinds(events)
    assert names == ["SpeechStarted", "UtteranceEnded"] * (len(names) // 2)
    pieces = utterances(events)
    assert len(pieces) >= 5
    assert all(p.cut for p in pieces[:-1]) and not pieces[-1].cut
    assert all(duration_ms(p.audio) <= 4000 + 200 for p in pieces)  # max + pre-roll
    spoken = sum(duration_ms(s) for s in sentences) * 3
    assert sum(duration_ms(p.audio) for p in pieces) >= spoken  # nothing said is lost


def test_reset_drops_a_running_utterance():
    sentence = german_speech(FIRST)
    ep = Endpointer(8000)
    half = split_frames(concat(pause(500), sentence).pcm, 8000)[:80]
    events = [e for f in half for e in ep.feed(f)]
    assert [type(e) for e in events] == [SpeechStarted]
    assert ep.in_speech
    ep.reset()
    assert not ep.in_speech
    assert run(pause(2000), ep) == []
    assert ep.now_ms == len(half) * 20 + 2000  # the stream clock keeps counting


def test_silence_threshold_can_change_between_turns():
    ep = Endpointer(8000, silence_ms=600)
    ep.silence_ms = 1000
    call = concat(pause(500), german_speech(SECOND), pause(1500))
    ended = utterances(run(call, ep))[0]
    assert ended.ended_at_ms - ended.last_speech_ms == 1000


def test_rejects_frames_of_the_wrong_size_and_unsupported_rates():
    ep = Endpointer(8000)
    with pytest.raises(ValueError):
        ep.feed(bytes(640))
    with pytest.raises(ValueError):
        Endpointer(22050)
