"""Test doubles that speak FreeSWITCH's real wire protocols: the stand-in for one call and a
raw peer for bad-input tests. The dialog without sockets (turn loop + speaker): ``turns.py``."""

from .raw import RawFreeSwitch
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
from .standin import CallRecord, FreeSwitchStandIn

__all__ = [
    "CallRecord", "CallerSpeech", "Echo", "FreeSwitchStandIn", "HangUp", "Pause", "RawFreeSwitch",
    "Say", "SendDtmf", "Step", "WaitForAgentAudio", "WaitForAgentSilence",
]
