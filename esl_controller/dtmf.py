"""Keys the caller presses (DTMF), as FreeSWITCH reports them to the controller.

FreeSWITCH fires a ``DTMF`` event on the call's channel when its park loop dequeues a digit
(RFC 2833 on a SIP line, ``uuid_send_dtmf``, or a loopback partner's digits); ``myevents``
delivers it to the outbound socket. Headers: ``DTMF-Digit`` (``#`` arrives URL-encoded, the
parser decodes it), ``DTMF-Duration`` (samples), ``DTMF-Source`` (``RTP``, ``INBAND_AUDIO``,
``ENDPOINT``, ``APP``, ``UNKNOWN``).

:func:`note_key` records each key on the chat timeline (event ``dtmf``) and logs it. Agents do not
act on keys yet; how they should (a sketch, not built): an Operator-Bot target gets an optional
``digit`` ("Drücken Sie die 1 für Termine"): a key press picks that target like a matching
keyword; ``0`` could ask for a person (the default target), ``*`` repeat the last reply.
Deliver a digit to the dialog as a caller turn (``Conversation.on_key(digit)``) so the same
turn logic (interrupting the agent, handover, transfer) applies.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .chat_log import ChatLog
from .protocol import Event

log = logging.getLogger(__name__)

DIGITS = frozenset("0123456789*#ABCD")


@dataclass(frozen=True)
class KeyPress:
    digit: str
    duration_ms: int
    source: str

    @classmethod
    def from_event(cls, event: Event, rate: int = 8000) -> KeyPress | None:
        """The key of a ``DTMF`` event; None for anything else or a digit we do not know."""
        if event.name != "DTMF":
            return None
        digit = (event.get("DTMF-Digit") or "").strip().upper()
        if digit not in DIGITS:
            return None
        try:
            samples = int(event.get("DTMF-Duration") or 0)
        except ValueError:
            samples = 0
        return cls(digit=digit, duration_ms=samples * 1000 // max(rate, 1),
                   source=event.get("DTMF-Source") or "")

    @property
    def text(self) -> str:
        """How the receptionist reads it on the chat timeline."""
        return f"Taste {self.digit} gedrückt"


def note_key(event: Event, rate: int, chat: ChatLog) -> None:
    """A key the caller pressed: logged and on the chat's timeline."""
    key = KeyPress.from_event(event, rate)
    if key is None:
        log.warning("DTMF event without a known digit: %r", event.get("DTMF-Digit"))
        return
    log.info("caller pressed %s (%d ms, %s)", key.digit, key.duration_ms, key.source or "?")
    chat.note("dtmf", digit=key.digit, text=key.text, source=key.source,
              duration_ms=key.duration_ms)
