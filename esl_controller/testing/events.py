"""Which events an outbound listener receives: ``myevents``, ``event``, ``filter``, ``nixevent``,
``noevents`` with the replies and matching rules of mod_event_socket.c (``parse_command``,
``event_handler``)."""

from __future__ import annotations

import re

MYEVENTS = frozenset({
    "CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE", "CHANNEL_DATA",
    "CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_OUTGOING",
    "CHANNEL_PARK", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE",
    "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK", "DETECTED_SPEECH", "DTMF", "NOTALK", "TALK",
})

# EVENT_NAMES in switch_event.c (the ones switch_name_event accepts).
EVENT_NAMES = MYEVENTS | frozenset({
    "CUSTOM", "CLONE", "CHANNEL_CALLSTATE", "CHANNEL_HOLD", "CHANNEL_UNHOLD", "API", "LOG",
    "INBOUND_CHAN", "OUTBOUND_CHAN", "STARTUP", "SHUTDOWN", "PUBLISH", "UNPUBLISH",
    "SESSION_CRASH", "MODULE_LOAD", "MODULE_UNLOAD", "MESSAGE", "PRESENCE_IN", "NOTIFY_IN",
    "PRESENCE_OUT", "PRESENCE_PROBE", "MESSAGE_WAITING", "MESSAGE_QUERY", "ROSTER", "CODEC",
    "BACKGROUND_JOB", "DETECTED_TONE", "PRIVATE_COMMAND", "HEARTBEAT", "TRAP", "ADD_SCHEDULE",
    "DEL_SCHEDULE", "EXE_SCHEDULE", "RE_SCHEDULE", "RELOADXML", "NOTIFY", "PHONE_FEATURE",
    "PHONE_FEATURE_SUBSCRIBE", "SEND_MESSAGE", "RECV_MESSAGE", "REQUEST_PARAMS", "GENERAL",
    "COMMAND", "SESSION_HEARTBEAT", "CLIENT_DISCONNECTED", "SERVER_DISCONNECTED", "SEND_INFO",
    "RECV_INFO", "RECV_RTCP_MESSAGE", "SEND_RTCP_MESSAGE", "CALL_SECURE", "NAT", "RECORD_START",
    "RECORD_STOP", "PLAYBACK_START", "PLAYBACK_STOP", "CALL_UPDATE", "FAILURE", "SOCKET_DATA",
    "MEDIA_BUG_START", "MEDIA_BUG_STOP", "CONFERENCE_DATA_QUERY", "CONFERENCE_DATA",
    "CALL_SETUP_REQ", "CALL_SETUP_RESULT", "CALL_DETAIL", "DEVICE_STATE", "TEXT",
    "SHUTDOWN_REQUESTED", "ALL",
})

FORMATS = ("plain", "json", "xml")


def _event_name(word: str) -> str | None:
    upper = word.upper()
    if upper.startswith("SWITCH_EVENT_"):
        upper = upper[13:]
    return upper if upper in EVENT_NAMES else None


class Subscription:
    """The listener's event list, format, filters and ``myevents`` session binding."""

    def __init__(self, uuid: str):
        self.uuid = uuid
        self.enabled = False
        self.session_only = False
        self.names: set[str] = set()
        self.subclasses: set[str] = set()
        self.fmt = "plain"
        self.filters: list[tuple[str, str]] = []

    def myevents(self, line: str) -> str:
        if self.session_only:
            return "-ERR aready enabled."
        self.names |= MYEVENTS
        self.session_only = self.enabled = True
        if "xml" in line.lower():
            self.fmt = "xml"
        if "json" in line.lower():
            self.fmt = "json"
        return "+OK Events Enabled"

    def event(self, line: str) -> str:
        words = line.split(" ")[1:]
        keys = 0
        custom = False
        for i, word in enumerate(words):
            if i == 0 and word.lower() in FORMATS:
                self.fmt = word.lower()
                continue
            if custom:
                self.subclasses.add(word)
                continue
            name = _event_name(word)
            if name is None:
                continue
            keys += 1
            self.names.add(name)
            custom = custom or name == "CUSTOM"
        if not keys:
            return "-ERR no keywords supplied"
        self.enabled = True
        return f"+OK event listener enabled {self.fmt}"

    def nixevent(self, line: str) -> str:
        keys = 0
        for word in line.split(" ")[1:]:
            name = _event_name(word)
            if name is None:
                self.subclasses.discard(word)
                continue
            keys += 1
            if name == "ALL":
                self.names.clear()
            else:
                if "ALL" in self.names:
                    self.names = set(EVENT_NAMES) - {"ALL"}
                self.names.discard(name)
        if not keys:
            return "-ERR no keywords supplied"
        self.enabled = True
        return "+OK events nixed"

    def noevents(self) -> str:
        if not self.enabled:
            return "-ERR not listening for events"
        self.enabled = False
        self.names.clear()
        self.subclasses.clear()
        return "+OK no longer listening for events"

    def filter(self, rest: str) -> str:
        rest = rest.lstrip(" ")
        name, _, value = rest.partition(" ")
        if name.lower() == "delete" and value:
            header, _, val = value.partition(" ")
            if header.lower() == "all":
                self.filters.clear()
            else:
                self.filters = [(h, v) for h, v in self.filters
                                if not (h.lower() == header.lower() and (not val or v == val))]
            return f"+OK filter deleted. [{header}][{val}]"
        if value:
            if name.lower() == "add":
                name, _, value = value.partition(" ")
            self.filters.append((name, value))
            return f"+OK filter added. [{name}]=[{value}]"
        return "-ERR invalid syntax"

    def wants(self, headers: dict[str, str]) -> bool:
        """``event_handler``: the event list, then the filters, then the session binding."""
        if not self.enabled:
            return False
        name = headers.get("Event-Name", "")
        send = "ALL" in self.names or name in self.names
        if send and name == "CUSTOM" and "ALL" not in self.names:
            send = headers.get("Event-Subclass", "") in self.subclasses
        if send and self.filters:
            send = self._filters_pass(headers)
        if send and self.session_only:
            send = self.uuid in (headers.get("Unique-ID"), headers.get("Job-Owner-UUID"))
        return send

    def _filters_pass(self, headers: dict[str, str]) -> bool:
        lower = {k.lower(): v for k, v in headers.items()}
        send = False
        for name, value in self.filters:
            event_value = lower.get(name.lower())
            if event_value is None:
                continue
            positive, comp = True, value
            while comp and comp[0] in "+- ":
                positive = comp[0] != "-" if comp[0] != " " else positive
                comp = comp[1:]
            if (send and positive) or not comp:
                continue
            if value.startswith("/"):
                matched = re.search(comp.strip("/"), event_value) is not None
            else:
                matched = event_value.lower() == comp.lower()
            if matched:
                if not positive:
                    return False
                send = True
        return send
