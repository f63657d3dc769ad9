"""The call's decisions carried out on FreeSWITCH: handover bookkeeping, transfer to a number,
hangup, and the fallback (apology + human or voicemail, dialplan side) for any failure. It also
keeps the outcome the chat is closed with (``end_reason``, ``transferred_to``)."""

from __future__ import annotations

import logging
import uuid as uuidlib

import gevent

from agents.actions import HandOver

from .chat_log import ChatLog
from .connection import EslConnection
from .protocol import Hangup
from .services import CallServices

log = logging.getLogger(__name__)


class CallerHungUp(Exception):
    """Raised into the dialog when the channel hangs up or FreeSWITCH disconnects."""


class CallControl:
    def __init__(self, conn: EslConnection, chat: ChatLog, services: CallServices, uuid: str):
        self.conn = conn
        self.chat = chat
        self.services = services
        self.uuid = uuid
        self.leaving = False  # transfer, hangup or fallback under way: a node stop waits for it
        self.end_reason = ""
        self.transferred_to = ""

    def hand_over(self, action: HandOver) -> None:
        self.chat.note("handover", from_agent=action.from_agent.name, to_agent=action.to.name,
                       reason=action.reason)
        self.chat.update(last_agent_id=action.to.id, last_agent_name=action.to.name)
        self.services.live.update(self.uuid, agent=action.to.name)
        log.info("handover %s -> %s", action.from_agent.name, action.to.name)

    def hang_up(self, reason: str) -> None:
        self.leaving = True
        self.chat.note("hangup", by="agent", reason=reason)
        self.end_reason = "agent_hangup"
        self.conn.send(Hangup(event_uuid=str(uuidlib.uuid4())))
        gevent.wait([self.conn.closed, self.conn.hangup_notice], count=1, timeout=5.0)

    def transfer(self, number: str, label: str) -> None:
        self.leaving = True
        self.chat.note("transfer", number=number, label=label)
        log.info("transfer to %s (%s)", number, label or "ohne Bezeichnung")
        self._hand_to_dialplan(f"{number} XML {self.services.settings.transfer_context}")
        self.end_reason = "transfer"
        self.transferred_to = number

    def fallback(self, reason: str) -> None:
        """The dialplan's fallback extension apologises and bridges to a human or voicemail."""
        settings = self.services.settings
        self.leaving = True
        self.end_reason = "fallback"
        self.chat.note("fallback", reason=reason)
        log.warning("fallback: %s", reason)
        try:
            self._hand_to_dialplan(f"{settings.fallback_extension} XML {settings.fallback_context}")
        except CallerHungUp:
            raise
        except Exception as exc:
            # the socket closing after `resume` also lands in the dialplan's fallback actions
            log.error("fallback transfer failed (%s); closing so the dialplan falls back", exc)

    def _hand_to_dialplan(self, destination: str) -> None:
        """``transfer`` the call, then let the socket go without disturbing it.

        When the controller closes the socket with socket_resume on, FreeSWITCH resets the channel
        (CS_RESET) — by then it runs the extension we transferred to, so its bridge to the human
        is cancelled (487) and the caller lands in the voicemail. Switching the variable off first
        makes closing after the transfer harmless."""
        self.conn.execute("set", "socket_resume=false", timeout=5.0)
        self.conn.execute("transfer", destination, timeout=5.0)
