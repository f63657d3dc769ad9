"""One call's audio plumbing: caller frames → recorder + :class:`CallerEar` → utterances; agent
speech → paced frames to FreeSWITCH.

Barge-in lives here: :class:`CallerEar` gets the endpointer's ``SpeechStarted`` (media/vad.py);
while the agent talks (and the agent's ``TurnTaking.barge_in`` allows it) it drops the agent's
queued audio at once, in the receive path, and sets :attr:`CallerEar.barge_in` — the event the
speaker (speaker.py) waits on to stop the rest of the reply.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gevent.event import Event
from gevent.queue import Empty, Queue

from config.turn_taking import TurnTaking
from media.audio import FrameStream, frame_bytes, resample
from media.engines import Audio
from media.recording import CallRecorder
from media.vad import Endpointer, SpeechStarted, UtteranceEnded, VadEvent

from .pacer import OutgoingStream, Pacer
from .unicast import UnicastEndpoint

log = logging.getLogger(__name__)

PLAY_SLACK_S = 5.0  # beyond its own length, how long a reply may take to go out


@dataclass(frozen=True)
class Utterance:
    audio: Audio
    last_speech_at: float  # monotonic time of the caller's last voiced frame


class CallerEar:
    """The caller's side of turn-taking, without sockets: 20 ms frames in (:meth:`hear`),
    utterances out (:meth:`next_utterance`), barge-in as an event.

    ``agent_talking`` says whether agent audio is under way; ``stop_agent`` drops what is queued
    (returns the frames dropped)."""

    def __init__(self, rate: int, turn_taking: TurnTaking, *,
                 agent_talking: Callable[[], bool], stop_agent: Callable[[], int]):
        self.endpointer = Endpointer(rate, silence_ms=turn_taking.endpoint_silence_ms,
                                     min_speech_ms=turn_taking.min_speech_ms)
        self.turn_taking = turn_taking
        self.utterances: Queue[Utterance] = Queue()
        self.barge_in = Event()  # set when the caller interrupts; the speaker clears it per reply
        self._agent_talking = agent_talking
        self._stop_agent = stop_agent
        self._stream_ms = 0
        self.last_frame_at = time.monotonic()

    def use(self, turn_taking: TurnTaking) -> None:
        """Another agent took over: its options apply from the caller's next turn."""
        self.turn_taking = turn_taking
        self.endpointer.silence_ms = turn_taking.endpoint_silence_ms
        self.endpointer.min_speech_ms = turn_taking.min_speech_ms

    def hear(self, frame: bytes, now: float) -> None:
        """One 20 ms caller frame (monotonic ``now``)."""
        self.last_frame_at = now
        self._stream_ms += 20
        for event in self.endpointer.feed(frame):
            self.on_vad_event(event, now)

    def on_vad_event(self, event: VadEvent, now: float) -> None:
        """The endpointer's decision: an onset may be a barge-in, an end is the caller's turn."""
        if isinstance(event, SpeechStarted):
            if self.turn_taking.barge_in and self._agent_talking():
                dropped = self._stop_agent()
                self.barge_in.set()
                log.info("barge-in: caller spoke, %d agent frames dropped", dropped)
        elif isinstance(event, UtteranceEnded):
            trailing_s = max(0, self._stream_ms - event.last_speech_ms) / 1000
            self.utterances.put(Utterance(event.audio, now - trailing_s))

    def next_utterance(self, timeout: float) -> Utterance | None:
        """The caller's next turn, or None after ``timeout`` s of silence. A turn under way keeps
        the wait going — until no caller audio came for ``caller_stall_s``: then it ends with
        what was heard (FreeSWITCH stopped sending; the call must not wait forever)."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            wait = deadline - now
            if self.endpointer.in_speech:
                wait = self.last_frame_at + self.turn_taking.caller_stall_s - now
            try:
                return self.utterances.get(timeout=max(0.0, wait))
            except Empty:
                pass
            if not self.endpointer.in_speech:
                if time.monotonic() >= deadline:
                    return None
                continue  # the turn under way just ended without words: the silence goes on
            if time.monotonic() - self.last_frame_at < self.turn_taking.caller_stall_s:
                continue
            log.warning("no caller audio for %.1f s mid-speech: the turn ends there",
                        self.turn_taking.caller_stall_s)
            ended = self.endpointer.end_utterance()
            if ended is not None:
                return Utterance(ended.audio, self.last_frame_at)


class CallAudio:
    """The call's two directions over FreeSWITCH's unicast: the caller's datagrams in, the
    agent's paced frames out, both into the recording."""

    def __init__(self, *, rate: int, host: str, freeswitch_port: int,
                 pacer: Pacer, recording_path: Path | None, turn_taking: TurnTaking):
        self.rate = rate
        self.pacer = pacer
        self.recorder = CallRecorder(recording_path, rate)
        self.recording_path = recording_path
        self.endpoint = UnicastEndpoint(host, freeswitch_port, self._on_datagram)
        self._frame_size = frame_bytes(rate)
        self._chunker = FrameStream(rate)  # FreeSWITCH sends one datagram per packet time
        self._frame_errors = 0
        self.stream = OutgoingStream((host, freeswitch_port), frame_bytes(rate),
                                     self._on_first_agent_frame)
        self.replying = False  # an agent reply is under way (also between its sentences)
        self.ear = CallerEar(rate, turn_taking, stop_agent=self.stream.clear,
                             agent_talking=lambda: self.stream.speaking or self.replying)
        self.first_packet_at: float | None = None  # first agent frame after begin_reply()
        self._played_by = 0.0  # when the queued agent speech will have gone out

    @property
    def port(self) -> int:
        return self.endpoint.port

    def start(self) -> None:
        self.endpoint.start()
        self.pacer.add(self.stream)

    # ---------------------------------------------------------------- the speaker's side
    def begin_reply(self) -> None:
        """A new reply: its first packet is timed, an earlier barge-in no longer counts."""
        self.ear.barge_in.clear()
        self.first_packet_at = None
        self.stream.arm_first_frame()

    def play(self, audio: Audio, mark: object = None) -> int:
        """Queue agent speech (resampled to the channel rate); returns frames queued."""
        pcm = resample(audio.pcm, audio.sample_rate, self.rate)
        self.replying = True
        frames = self.stream.enqueue(pcm, mark)
        self._played_by = max(self._played_by, time.monotonic()) + frames * 0.02
        return frames

    def wait_played(self) -> bool:
        """Until the queued speech went out or the caller barged in (a barge-in empties the
        queue); bounded by the speech's own length, so a stuck sender cannot hold the call."""
        timeout = max(0.0, self._played_by - time.monotonic()) + PLAY_SLACK_S
        return self.stream.wait_drained(timeout=timeout)

    def end_reply(self) -> None:
        self.replying = False

    @property
    def marks_played(self) -> list[object]:
        return self.stream.marks_sent

    # ---------------------------------------------------------------- the caller's side
    def _on_first_agent_frame(self, sent_at: float) -> None:  # sender thread: one float store
        self.first_packet_at = sent_at

    def _record_agent_frames(self) -> None:
        sent = self.stream.sent
        while sent:
            self.recorder.add_agent(sent.popleft())

    def _on_datagram(self, data: bytes) -> None:
        """Caller audio as it arrives: cut into 20 ms frames whatever FreeSWITCH's packet time
        (30 ms lines send 480-byte datagrams); one bad frame never deafens the call."""
        if len(data) == self._frame_size and not self._chunker.pending:
            frames = [data]
        elif len(data) % 2:  # not whole L16 samples: keeping it would misalign all that follows
            self._frame_errors += 1
            log.warning("dropped a %d-byte caller datagram", len(data))
            return
        else:
            frames = self._chunker.push(data)
        for frame in frames:
            try:
                self._on_caller_frame(frame)
            except Exception:
                self._frame_errors += 1
                if self._frame_errors == 1:
                    log.exception("caller audio frame failed")

    def _on_caller_frame(self, frame: bytes) -> None:
        self._record_agent_frames()
        self.recorder.add_caller(frame)
        self.ear.hear(frame, time.monotonic())

    def close(self) -> float:
        """Stop audio both ways and finish the recording; returns its duration in seconds."""
        self.pacer.remove(self.stream)
        self.endpoint.close()
        self._record_agent_frames()
        return self.recorder.close()
