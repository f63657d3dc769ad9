"""A whole inbound call as FreeSWITCH runs it: the real dialplan (freeswitch_conf/) around the
``socket`` app. Shows what the caller gets when the controller is down, leaves the call, or
transfers it — the proof that a call is never just dropped.

Apps outside socket control are not executed, only recorded in order, with FreeSWITCH's
control flow: ``socket`` returns when no host connects or the controller closes without
transfer/hangup; ``transfer`` continues in the target extension; an answered ``bridge`` ends the
call (``hangup_after_bridge=true``), a failed one falls through (``continue_on_fail=true``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from freeswitch_conf.dialplan import DIALPLAN_PATH, load_extension_actions, local_variables

from .script import Step
from .standin import CallRecord, FreeSwitchStandIn

log = logging.getLogger(__name__)

MAX_TRANSFERS = 5  # FreeSWITCH's max_forwards guards real loops; enough here


@dataclass
class DialplanCall:
    """What happened to the caller, in order."""

    apps: list[tuple[str, str]] = field(default_factory=list)  # dialplan apps run (not socket)
    socket: CallRecord | None = None
    socket_errors: list[str] = field(default_factory=list)  # "Socket Error!" per failed host
    bridged_to: str | None = None
    ended_by: str = ""  # "bridge", "voicemail", "hangup", "socket", "no_route"

    @property
    def app_names(self) -> list[str]:
        return [app for app, _ in self.apps]


def place_dialplan_call(destination: str, script: list[Step], *,
                        esl_hosts: str, caller_number: str = "491701234567",
                        fallback_number: str = "4930999999", bridge_answers: bool = True,
                        dialplan: Path = DIALPLAN_PATH, timeout_s: float = 60) -> DialplanCall:
    variables = {**local_variables(), "voicegate_esl_hosts": esl_hosts,
                 "voicegate_fallback_number": fallback_number, "domain": "voicegate.local"}
    result = DialplanCall()
    context, extension = "voicegate", destination
    for _ in range(MAX_TRANSFERS):
        actions = load_extension_actions(dialplan, context, extension, variables)
        if not actions:
            result.ended_by = "no_route"
            return result
        target = _run_actions(actions, result, script, destination=destination,
                              caller_number=caller_number, bridge_answers=bridge_answers,
                              timeout_s=timeout_s)
        if target is None:
            return result
        extension, context = target
    raise RuntimeError("transfer loop in the dialplan")


def _run_actions(actions, result: DialplanCall, script, *, destination, caller_number,
                 bridge_answers, timeout_s) -> tuple[str, str] | None:
    """Run one extension; returns (extension, context) when the call is transferred."""
    for app, data in actions:
        if app == "socket":
            record = _socket(data, result, script, destination, caller_number, timeout_s)
            if record is None:
                continue  # every host failed: the dialplan goes on
            result.socket = record
            if record.transferred_to and not record.transferred_to.startswith("sofia/"):
                return _parse_transfer(record.transferred_to)
            if record.socket_returned:
                continue  # the controller left the call to the dialplan
            result.ended_by = "socket"
            return None
        result.apps.append((app, data))
        if app == "bridge":
            if bridge_answers:
                result.bridged_to = data.rsplit("/", 1)[-1]
                result.ended_by = "bridge"
                return None
        elif app == "transfer":
            return _parse_transfer(data)
        elif app in ("hangup", "voicemail"):
            result.ended_by = app
            return None
    result.ended_by = "hangup"  # FreeSWITCH: "executed the last dialplan instruction"
    return None


def _socket(data: str, result: DialplanCall, script, destination: str, caller_number: str,
            timeout_s: float) -> CallRecord | None:
    hosts = data.split()[0]
    for host_port in hosts.split("|"):
        host, _, port = host_port.partition(":")
        standin = FreeSwitchStandIn(host, int(port or 8084), destination_number=destination,
                                    caller_number=caller_number)
        record = standin.run(script, timeout_s=timeout_s)
        if record.connected:
            return record
        log.info("Socket Error! (%s)", host_port)
        result.socket_errors.append(host_port)
    return None


def _parse_transfer(arg: str) -> tuple[str, str]:
    parts = arg.split()
    extension = parts[0]
    context = parts[2] if len(parts) > 2 else "default"
    return extension, context
