"""Plays the caller's script against a running stand-in call."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import gevent

from .script import (
    CallerSpeech,
    Echo,
    HangUp,
    Pause,
    Say,
    SendDtmf,
    Step,
    WaitForAgentAudio,
    WaitForAgentSilence,
)

if TYPE_CHECKING:
    from .standin import FreeSwitchStandIn

log = logging.getLogger(__name__)


def play_script(standin: FreeSwitchStandIn, script: list[Step]) -> None:
    """Run the steps in order while the channel is up. A wait that times out is recorded in
    ``record.errors`` and the script goes on."""
    for step in script:
        if not standin.channel.up:
            return
        if isinstance(step, Say):
            _say(standin, step)
        elif isinstance(step, Pause):
            standin.hungup.wait(step.seconds)
        elif isinstance(step, WaitForAgentAudio):
            _wait_for_audio(standin, step)
        elif isinstance(step, WaitForAgentSilence):
            _wait_for_silence(standin, step)
        elif isinstance(step, HangUp):
            standin.hang_up("NORMAL_CLEARING", "caller")
        elif isinstance(step, SendDtmf):
            send_dtmf(standin, step.digit)
        elif isinstance(step, Echo):
            standin.media.echo = True
        else:
            raise TypeError(f"unknown script step {step!r}")


def _say(standin: FreeSwitchStandIn, step: Say) -> None:
    speech = CallerSpeech(step.audio) if step.audio is not None else CallerSpeech.from_text(
        step.text or "")
    done = standin.media.say(speech.pcm_at(standin.media.rate))
    ended = done.get()
    if standin.channel.up:
        standin.record.caller_speech_ends.append(ended)


def _wait_for_audio(standin: FreeSwitchStandIn, step: WaitForAgentAudio) -> None:
    media = standin.media
    start = time.monotonic()
    deadline = start + step.timeout_s
    while media.last_voiced_at <= start:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            standin.record.errors.append(f"no agent audio within {step.timeout_s} s")
            return
        media.voiced.clear()
        if media.last_voiced_at > start:
            return
        gevent.wait([media.voiced, standin.hungup], timeout=remaining, count=1)
        if standin.hungup.is_set():
            return


def _wait_for_silence(standin: FreeSwitchStandIn, step: WaitForAgentSilence) -> None:
    """Sleeps exactly until the earliest moment the agent could have been quiet long enough,
    re-checking after each such moment."""
    media = standin.media
    start = time.monotonic()
    deadline = start + step.timeout_s
    while True:
        now = time.monotonic()
        quiet_for = now - max(media.last_voiced_at, start)
        if quiet_for >= step.silence_s:
            return
        if now >= deadline:
            standin.record.errors.append(
                f"agent not silent for {step.silence_s} s within {step.timeout_s} s")
            return
        wait = min(step.silence_s - quiet_for, deadline - now)
        if standin.hungup.wait(wait):
            return


def send_dtmf(standin: FreeSwitchStandIn, digit: str) -> None:
    """The caller presses ``digit``: the park loop dequeues it and fires DTMF (no variables,
    ESL.md §4)."""
    if not standin.media.media_ready:
        return
    standin.fire("DTMF", [("DTMF-Digit", digit), ("DTMF-Duration", "2000"),
                          ("DTMF-Source", "RTP")],
                 function="switch_channel_dequeue_dtmf", with_variables=False)
