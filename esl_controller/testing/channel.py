"""The stand-in's model of one FreeSWITCH channel and the event headers FS builds from it.

Header names and order follow ``switch_event_prep_for_delivery`` (the ``Event-*`` /
``FreeSWITCH-*`` block), ``switch_channel_event_set_basic_data`` (``Channel-*``, ``Unique-ID``,
``Answer-State``, codecs), ``switch_caller_profile_event_set_data`` (``Caller-*``, or
``Channel-*`` in the connect reply) and ``switch_channel_event_set_extended_data``
(``variable_*``).
"""

from __future__ import annotations

import itertools
import socket
import time
from dataclasses import dataclass, field

Headers = list[tuple[str, str]]

_SEQUENCE = itertools.count(1000)
_CORE_UUID = "3f5c9c7e-0000-4000-8000-standin00001"
_HOSTNAME = socket.gethostname()

_STATE_NUMBERS = {"CS_NEW": "0", "CS_INIT": "1", "CS_ROUTING": "2", "CS_SOFT_EXECUTE": "3",
                  "CS_EXECUTE": "4", "CS_EXCHANGE_MEDIA": "5", "CS_PARK": "6",
                  "CS_CONSUME_MEDIA": "7", "CS_HIBERNATE": "8", "CS_RESET": "9",
                  "CS_HANGUP": "10", "CS_REPORTING": "11", "CS_DESTROY": "12"}

_CODEC_BIT_RATES = {"PCMU": "64000", "PCMA": "64000", "G722": "64000", "L16": "128000",
                    "OPUS": "0"}

Q850 = {"UNALLOCATED_NUMBER": "1", "NORMAL_CLEARING": "16", "USER_BUSY": "17",
        "NO_USER_RESPONSE": "18", "NO_ANSWER": "19", "CALL_REJECTED": "21",
        "DESTINATION_OUT_OF_ORDER": "27", "NORMAL_TEMPORARY_FAILURE": "41",
        "ORIGINATOR_CANCEL": "487", "ALLOTTED_TIMEOUT": "602", "MANAGER_REQUEST": "503"}
"""``hangup_cause_q850`` for the causes the project uses (switch_channel.c CAUSE_CHART)."""


def _micros(ts: float) -> str:
    return str(int(ts * 1_000_000)) if ts else "0"


@dataclass
class Channel:
    """The state FS keeps for the inbound leg that the ``socket`` app hands to the controller."""

    uuid: str
    destination_number: str
    caller_number: str
    caller_name: str
    codec: str
    rate: int
    socket_data: str
    state: str = "CS_EXECUTE"
    state_number: str = "4"
    call_state: str = "RINGING"
    answer_state: str = "ringing"
    created: float = field(default_factory=time.time)
    answered_at: float = 0.0
    hangup_at: float = 0.0
    hangup_cause: str = ""
    variables: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.name = f"sofia/external/{self.caller_number}@127.0.0.1:5060"
        self.variables = {
            "direction": "inbound",
            "uuid": self.uuid,
            "session_id": "1",
            "sip_from_user": self.caller_number,
            "sip_to_user": self.destination_number,
            "sip_req_user": self.destination_number,
            "channel_name": self.name,
            "call_uuid": self.uuid,
            "read_codec": self.codec,
            "read_rate": str(self.rate),
            "original_read_codec": self.codec,
            "original_read_rate": str(self.rate),
            "write_codec": self.codec,
            "write_rate": str(self.rate),
            "dialplan_domain": "127.0.0.1",
            "current_application_data": self.socket_data,
            "current_application": "socket",
            "socket_host": self.socket_data.split(" ", 1)[0].rsplit(":", 1)[0],
            **self.variables,
        }

    # ------------------------------------------------------------------ state changes

    @property
    def up(self) -> bool:
        return not self.hangup_cause

    def answer(self) -> None:
        self.answer_state = "answered"
        self.call_state = "ACTIVE"
        self.answered_at = time.time()

    def hang_up(self, cause: str) -> None:
        """``switch_channel_perform_hangup``: CHANNEL_HANGUP still says ``CS_EXECUTE`` (state
        number 10) and the old call state; the state machine moves on later."""
        self.hangup_cause = cause
        self.hangup_at = time.time()
        self.state_number = "10"
        self.answer_state = "hangup"

    def set_cdr_variables(self) -> None:
        """What ``switch_channel_set_timestamps`` adds before CHANNEL_HANGUP_COMPLETE."""
        def stamp(ts: float) -> str:
            return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))

        end = self.hangup_at or time.time()
        answered = self.answered_at
        values = {"start_stamp": stamp(self.created)}
        if answered:
            values["answer_stamp"] = stamp(answered)
        values.update(end_stamp=stamp(end), start_epoch=str(int(self.created)),
                      start_uepoch=_micros(self.created), answer_epoch=str(int(answered)),
                      answer_uepoch=_micros(answered), end_epoch=str(int(end)),
                      end_uepoch=_micros(end), caller_id=self.caller_number,
                      duration=str(int(end - self.created)),
                      billsec=str(int(end - answered) if answered else 0),
                      mduration=str(int((end - self.created) * 1000)),
                      billmsec=str(int((end - answered) * 1000) if answered else 0))
        last_app = self.variables.get("current_application")
        if last_app:
            values["last_app"] = last_app
            values["last_arg"] = self.variables.get("current_application_data", "")
        for name, value in values.items():
            self.set_variable(name, value)

    def enter_state(self, state: str) -> None:
        """``switch_channel_perform_set_running_state`` (CHANNEL_STATE)."""
        self.state = state
        self.state_number = _STATE_NUMBERS.get(state, "4")
        if state == "CS_REPORTING":
            self.call_state = "HANGUP"

    def set_variable(self, name: str, value: str) -> None:
        """``switch_channel_set_variable``: a new value goes to the end of the list; an empty
        one deletes it."""
        self.variables.pop(name, None)
        if value:
            self.variables[name] = value

    # ------------------------------------------------------------------ header blocks

    def _event_base(self, name: str, function: str) -> Headers:
        now = time.time()
        return [
            ("Event-Name", name),
            ("Core-UUID", _CORE_UUID),
            ("FreeSWITCH-Hostname", _HOSTNAME),
            ("FreeSWITCH-Switchname", _HOSTNAME),
            ("FreeSWITCH-IPv4", "127.0.0.1"),
            ("FreeSWITCH-IPv6", "::1"),
            ("Event-Date-Local", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))),
            ("Event-Date-GMT", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))),
            ("Event-Date-Timestamp", _micros(now)),
            ("Event-Calling-File", "switch_channel.c"),
            ("Event-Calling-Function", function),
            ("Event-Calling-Line-Number", "4000"),
            ("Event-Sequence", str(next(_SEQUENCE))),
        ]

    def caller_profile(self, prefix: str) -> Headers:
        fields = [
            ("Direction", "inbound"),
            ("Logical-Direction", "inbound"),
            ("Username", self.caller_number),
            ("Dialplan", "XML"),
            ("Caller-ID-Name", self.caller_name),
            ("Caller-ID-Number", self.caller_number),
            ("Orig-Caller-ID-Name", self.caller_name),
            ("Orig-Caller-ID-Number", self.caller_number),
            ("Network-Addr", "127.0.0.1"),
            ("ANI", self.caller_number),
            ("Destination-Number", self.destination_number),
            ("Unique-ID", self.uuid),
            ("Source", "mod_sofia"),
            ("Context", "public"),
            ("Channel-Name", self.name),
            ("Profile-Index", "1"),
            ("Profile-Created-Time", _micros(self.created)),
            ("Channel-Created-Time", _micros(self.created)),
            ("Channel-Answered-Time", _micros(self.answered_at)),
            ("Channel-Progress-Time", "0"),
            ("Channel-Progress-Media-Time", "0"),
            ("Channel-Hangup-Time", _micros(self.hangup_at)),
            ("Channel-Transfer-Time", "0"),
            ("Channel-Resurrect-Time", "0"),
            ("Channel-Bridged-Time", "0"),
            ("Channel-Last-Hold", "0"),
            ("Channel-Hold-Accum", "0"),
            ("Screen-Bit", "true"),
            ("Privacy-Hide-Name", "false"),
            ("Privacy-Hide-Number", "false"),
        ]
        # switch_caller_profile_event_set_data leaves out what is empty
        return [(f"{prefix}-{name}", value) for name, value in fields if value]

    def basic_data(self) -> Headers:
        bit_rate = _CODEC_BIT_RATES.get(self.codec.upper(), "64000")
        return [
            ("Channel-State", self.state),
            ("Channel-Call-State", self.call_state),
            ("Channel-State-Number", self.state_number),
            ("Channel-Name", self.name),
            ("Unique-ID", self.uuid),
            ("Call-Direction", "inbound"),
            ("Presence-Call-Direction", "inbound"),
            ("Channel-HIT-Dialplan", "true"),
            ("Channel-Call-UUID", self.uuid),
            ("Answer-State", self.answer_state),
            *([("Hangup-Cause", self.hangup_cause)] if self.hangup_cause else []),
            ("Channel-Read-Codec-Name", self.codec),
            ("Channel-Read-Codec-Rate", str(self.rate)),
            ("Channel-Read-Codec-Bit-Rate", bit_rate),
            ("Channel-Write-Codec-Name", self.codec),
            ("Channel-Write-Codec-Rate", str(self.rate)),
            ("Channel-Write-Codec-Bit-Rate", bit_rate),
        ]

    def channel_data(self) -> Headers:
        """``switch_channel_event_set_data``: basic data, caller profile, variables."""
        variables = [(f"variable_{name}", value) for name, value in self.variables.items()]
        return [*self.basic_data(), *self.caller_profile("Caller"), *variables]

    def event(self, name: str, extra: Headers = (), *, function: str = "",
              with_variables: bool = True, leading: Headers = ()) -> Headers:
        """A channel event as FS fires it: base block, ``leading`` (headers added before the
        channel data, like HANGUP_COMPLETE's first ``Hangup-Cause``), channel data, ``extra``."""
        data = self.channel_data() if with_variables else [
            *self.basic_data(), *self.caller_profile("Caller")]
        return [*self._event_base(name, function or "switch_channel_event"), *leading, *data,
                *extra]

    def connect_headers(self) -> Headers:
        """The CHANNEL_DATA event ``parse_command`` builds for ``connect`` (before the tail)."""
        return [*self._event_base("CHANNEL_DATA", "parse_command"),
                *self.caller_profile("Channel"), *self.channel_data()]

    def plain_event(self, name: str, extra: Headers = ()) -> Headers:
        """An event that is not about the channel (BACKGROUND_JOB)."""
        return [*self._event_base(name, "api_exec"), *extra]
