"""``voicegate call NUMBER``: a test call through the FreeSWITCH stand-in to a running node,
then the conversation as the node stored it."""

from __future__ import annotations

import sys
from pathlib import Path

from config import Settings
from esl_controller.testing import (
    CallRecord,
    FreeSwitchStandIn,
    HangUp,
    Say,
    WaitForAgentAudio,
    WaitForAgentSilence,
)
from esl_controller.testing.script import CallerSpeech, is_voiced
from media.audio import frame_bytes, write_wav
from media.engines import Audio
from models import END_REASONS, Chat, ChatStatus, create_db_app, db


def caller_script(says: list[str]) -> list:
    script: list = [WaitForAgentAudio(timeout_s=15), WaitForAgentSilence(silence_s=0.8)]
    for text in says:
        script += [Say(text=text), WaitForAgentAudio(timeout_s=20),
                   WaitForAgentSilence(silence_s=1.0, timeout_s=60)]
    script += [WaitForAgentSilence(silence_s=2.0, timeout_s=30), HangUp()]
    return script


def place_test_call(settings: Settings, number: str, *, caller: str, says: list[str],
                    host: str, port: int, timeout_s: float, heard: Path | None = None) -> int:
    standin = FreeSwitchStandIn(host, port, destination_number=number, caller_number=caller)
    print(f"Testanruf {caller} → {number} über {host}:{port} …", flush=True)
    record = standin.run(caller_script(says), timeout_s=timeout_s)
    if not record.connected:
        print(f"Controller nicht erreichbar auf {host}:{port} — läuft `voicegate run`?",
              file=sys.stderr)
        return 1
    print_standin_view(record, says)
    if heard is not None:
        write_wav(heard, Audio(pcm=record.agent_audio, sample_rate=record.rate))
        print(f"Was der Anrufer hörte: {heard}")
    return print_chat(settings, record.uuid)


def print_standin_view(record: CallRecord, says: list[str] = ()) -> None:
    seconds = len(record.agent_audio) / 2 / record.rate
    print(f"Anruf-ID {record.uuid}: {seconds:.1f} s Agenten-Audio empfangen, "
          f"{len(record.caller_speech_ends)} Äußerung(en) des Anrufers gesendet")
    for i, gap in enumerate(turn_gaps(record, says), start=1):
        shown = "keine Antwort" if gap is None else f"{gap:.2f} s".replace(".", ",")
        print(f"  Antwortzeit nach Äußerung {i} (letztes Wort → erster Agenten-Ton): {shown}")
    for app, arg in record.executed:
        print(f"  FreeSWITCH führte aus: {app} {arg}".rstrip())
    for error in record.errors:
        print(f"  Hinweis: {error}")


def turn_gaps(record: CallRecord, says: list[str]) -> list[float | None]:
    """Per caller utterance: seconds from its last voiced 20 ms frame leaving the caller to
    the first voiced agent packet arriving after it (None: the agent never answered)."""
    voiced_at = _voiced_agent_packets(record)
    gaps: list[float | None] = []
    for text, ended in zip(says, record.caller_speech_ends, strict=False):
        last_word = ended - _trailing_silence_s(CallerSpeech.from_text(text).pcm_at(record.rate),
                                                record.rate)
        gaps.append(next((at - last_word for at in voiced_at if at > ended), None))
    return gaps


def _voiced_agent_packets(record: CallRecord) -> list[float]:
    times, offset = [], 0
    for at, size in record.agent_packets:
        if is_voiced(record.agent_audio[offset:offset + size]):
            times.append(at)
        offset += size
    return times


def _trailing_silence_s(pcm: bytes, rate: int) -> float:
    n = frame_bytes(rate)
    end = len(pcm) - len(pcm) % n
    silent = 0
    while end > 0 and not is_voiced(pcm[end - n:end]):
        end -= n
        silent += 1
    return silent * n / 2 / rate


def print_chat(settings: Settings, call_uuid: str) -> int:
    app = create_db_app(settings.sqlalchemy_url)
    with app.app_context():
        chat = db.session.scalar(db.select(Chat).filter_by(call_uuid=call_uuid))
        if chat is None:
            print(f"Kein Chat zu {call_uuid} in {settings.data_dir} — läuft der Knoten mit "
                  "diesem Datenordner (--data)?", file=sys.stderr)
            return 1
        print(f"\nChat #{chat.id} · {ChatStatus.label_of(chat.status)} · "
              f"Startagent {chat.start_agent_name or '–'} · letzter Agent "
              f"{chat.last_agent_name or '–'}")
        for turn in chat.turns:
            who = f"Agent ({turn.agent_name})" if turn.role == "agent" else "Anrufer"
            cut = " [unterbrochen]" if turn.interrupted else ""
            print(f"  {who}: {turn.text}{cut}")
        for event in chat.events:
            if event.kind in ("handover", "transfer", "fallback", "error", "tool_call"):
                print(f"  · {event.kind}: {event.data}")
        outcome = END_REASONS.get(chat.end_reason, chat.end_reason or "läuft noch")
        target = f" an {chat.transferred_to}" if chat.transferred_to else ""
        print(f"Ende: {outcome}{target}")
        if chat.summary:
            print(f"Zusammenfassung: {chat.summary}")
    return 0
