"""Keep a conversation inside the model's context window.

A long call (a 20-minute monologue is ~3,000 words) must not overflow the model: we keep every
system message and as many of the newest turns as fit the token budget, drop the oldest ones in
whole tool-call groups (an assistant tool call and its tool answers go together), and cut a
single over-long message from its start so the newest words survive.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from ..engines import ChatMessage

logger = logging.getLogger(__name__)

CHARS_PER_TOKEN = 3.0  # conservative for German BPE vocabularies (English is ~4)
MESSAGE_OVERHEAD_TOKENS = 4  # role markers of the chat template


def estimate_tokens(message: ChatMessage) -> int:
    text = message.content + "".join(c.name + str(c.arguments) for c in message.tool_calls)
    return int(len(text) / CHARS_PER_TOKEN) + MESSAGE_OVERHEAD_TOKENS


def _truncate(message: ChatMessage, budget_tokens: int) -> ChatMessage:
    keep_chars = max(0, int((budget_tokens - MESSAGE_OVERHEAD_TOKENS) * CHARS_PER_TOKEN) - 1)
    return replace(message, content="…" + message.content[len(message.content) - keep_chars:])


def _groups(messages: Sequence[ChatMessage]) -> list[list[ChatMessage]]:
    """Messages grouped so a tool answer stays with the assistant message that called the tool;
    a system message is a group of its own."""
    groups: list[list[ChatMessage]] = []
    for message in messages:
        if message.role == "tool" and groups and groups[-1][0].role != "system":
            groups[-1].append(message)
        else:
            groups.append([message])
    return groups


def fit_messages(messages: Sequence[ChatMessage], budget_tokens: int) -> list[ChatMessage]:
    """Every system message plus the newest turns that fit ``budget_tokens``, in their order.

    This is the one bound on a call's history: the conversation keeps all of it, the model gets
    what fits. The oldest turns go first, and a kept part never starts with an answer whose
    question was dropped; a handover note (a system message in the middle) stays in its place.
    """
    groups = _groups(messages)
    left = budget_tokens - sum(estimate_tokens(m) for m in messages if m.role == "system")
    kept: dict[int, list[ChatMessage]] = {}
    oldest = len(groups)
    for index in reversed(range(len(groups))):
        group = groups[index]
        if group[0].role == "system":
            continue
        cost = sum(estimate_tokens(m) for m in group)
        if cost <= left:
            kept[index] = group
            left -= cost
            oldest = index
            continue
        if not kept and len(group) == 1:  # the newest message alone is too long: keep its end
            kept[index] = [_truncate(group[0], max(left, MESSAGE_OVERHEAD_TOKENS + 32))]
            oldest = index
        break
    dropped_some = any(g[0].role != "system" and i not in kept for i, g in enumerate(groups))
    if dropped_some and oldest in kept and kept[oldest][0].role == "assistant" and len(kept) > 1:
        del kept[oldest]
    fitted = [m for i, g in enumerate(groups) if g[0].role == "system" or i in kept
              for m in kept.get(i, g)]
    dropped = len(messages) - len(fitted)
    if dropped:
        logger.info("context budget %d tokens: dropped %d oldest messages", budget_tokens,
                    dropped)
    return fitted
