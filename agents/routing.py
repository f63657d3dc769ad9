"""Forwarding to a configured target, and what happens when no target can be reached."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from agents.actions import Action, EndCall, HandOver, Transfer

if TYPE_CHECKING:
    from agents.context import TurnContext
    from agents.templates.base import Target

log = logging.getLogger(__name__)

FALLBACK_LABEL = "Zentrale"


def forward_to(ctx: TurnContext, target: Target, *, spoken: bool = False,
               announce: str = "forwarding", default: Target | None = None) -> Iterator[Action]:
    """Hand over or transfer to ``target``; if that is impossible (agent deleted, handover limit)
    try ``default``, then the customer's fallback number, then end the call politely."""
    outcome = ctx.toolbox.forward(target)
    yield outcome.used
    if outcome.handover_to is not None or outcome.terminal is not None:
        if not spoken:
            yield from ctx.say(ctx.phrase(announce, label=target.label))
        if outcome.handover_to is not None:
            yield HandOver(ctx.profile, outcome.handover_to, reason=target.key)
        else:
            assert isinstance(outcome.terminal, Transfer)
            yield outcome.terminal
        return
    if default is not None and default.key != target.key:
        yield from forward_to(ctx, default, spoken=spoken, announce="forward_default")
        return
    yield from give_up(ctx, spoken=spoken)


def give_up(ctx: TurnContext, *, spoken: bool = False) -> Iterator[Action]:
    """No configured target works: the customer's fallback number, else an apology and hangup."""
    number = ctx.directory.fallback_number
    if number:
        if not spoken:
            yield from ctx.say(ctx.phrase("forwarding", label=_fallback_label(ctx)))
        yield Transfer(number=number, label=FALLBACK_LABEL)
        return
    log.warning("agent %s: no reachable target and no fallback number", ctx.profile.id)
    yield from ctx.say(ctx.phrase("no_target"))
    yield EndCall(reason="kein_ziel")


def _fallback_label(ctx: TurnContext) -> str:
    return "unserer Zentrale" if ctx.language != "en" else "our front desk"
