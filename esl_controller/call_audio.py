"""One call's audio plumbing: caller frames → recorder + endpointer → utterances; agent speech →
paced frames. Barge-in: caller speech while the agent talks drops the agent's queued audio."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from gevent.queue import Queue

from media.audio import FrameStream, frame_bytes, resample
from media.engines import Audio
from media.recording import CallRecorder
from media.vad import Endpointer, SpeechStarted, UtteranceEnded

from .pacer import OutgoingStream, Pacer
from .unicast import UnicastEndpoint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Utterance:
    audio: Audio
    last_speech_at: float  # monotonic time of the caller's last voiced frame


class CallAudio:
    def __init__(self, *, call_uuid: str, rate: int, host: str, freeswitch_port: int,
                 pacer: Pacer, recording_path: Path, silence_ms: int):
        self.call_uuid = call_uuid
        self.rate = rate
        self.pacer = pacer
        self.utterances: Queue[Utterance] = Queue()
        self.endpointer = Endpointer(rate, silence_ms=silence_ms)
        self.recorder = CallRecorder(recording_path, rate)
        self.recording_path = recording_path
        self.endpoint = UnicastEndpoint(host, freeswitch_port, self._on_datagram,
                                        call_uuid=call_uuid)
        self._frame_size = frame_bytes(rate)
        self._chunker = FrameStream(rate)  # FreeSWITCH sends one datagram per packet time
        self._frame_errors = 0
        self.stream = OutgoingStream((host, freeswitch_port), frame_bytes(rate),
                                     self._on_first_agent_frame)
        self.barge_ins = 0
        self.replying = False  # an agent reply is under way (also between its sentences)
        self.first_packet_at: float | None = None  # first agent frame after arm_first_packet()
        self._stream_ms = 0

    @property
    def port(self) -> int:
        return self.endpoint.port

    def start(self) -> None:
        self.endpoint.start()
        self.pacer.add(self.stream)

    def set_silence_ms(self, silence_ms: int) -> None:
        self.endpointer.silence_ms = silence_ms

    def play(self, audio: Audio, mark: object = None) -> int:
        """Queue agent speech (resampled to the channel rate); returns frames queued."""
        pcm = resample(audio.pcm, audio.sample_rate, self.rate)
        return self.stream.enqueue(pcm, mark)

    def arm_first_packet(self) -> None:
        self.first_packet_at = None
        self.stream.arm_first_frame()

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
            log.warning("[%s] dropped a %d-byte caller datagram", self.call_uuid, len(data))
            return
        else:
            frames = self._chunker.push(data)
        for frame in frames:
            try:
                self._on_caller_frame(frame)
            except Exception:
                self._frame_errors += 1
                if self._frame_errors == 1:
                    log.exception("[%s] caller audio frame failed", self.call_uuid)

    def _on_caller_frame(self, frame: bytes) -> None:
        now = time.monotonic()
        self._record_agent_frames()
        self.recorder.add_caller(frame)
        self._stream_ms += 20
        for event in self.endpointer.feed(frame):
            if isinstance(event, SpeechStarted):
                if self.stream.speaking or self.replying:
                    dropped = self.stream.clear()
                    self.barge_ins += 1
                    log.info("[%s] barge-in: caller spoke, %d agent frames dropped",
                             self.call_uuid, dropped)
            elif isinstance(event, UtteranceEnded):
                trailing_s = max(0, self._stream_ms - event.last_speech_ms) / 1000
                self.utterances.put(Utterance(event.audio, now - trailing_s))

    def close(self) -> float:
        """Stop audio both ways and finish the recording; returns its duration in seconds."""
        self.pacer.remove(self.stream)
        self.endpoint.close()
        self._record_agent_frames()
        return self.recorder.close()
