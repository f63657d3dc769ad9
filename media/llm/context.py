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


def _groups(turns: Sequence[ChatMessage]) -> list[list[ChatMessage]]:
    """Turns grouped so a tool answer stays with the assistant message that called the tool."""
    groups: list[list[ChatMessage]] = []
    for message in turns:
        if message.role == "tool" and groups:
            groups[-1].append(message)
        else:
            groups.append([message])
    return groups


def fit_messages(messages: Sequence[ChatMessage], budget_tokens: int) -> list[ChatMessage]:
    """The system messages plus the newest turns that fit ``budget_tokens``, in order."""
    system = [m for m in messages if m.role == "system"]
    turns = [m for m in messages if m.role != "system"]
    left = budget_tokens - sum(estimate_tokens(m) for m in system)
    kept: list[list[ChatMessage]] = []
    for group in reversed(_groups(turns)):
        cost = sum(estimate_tokens(m) for m in group)
        if cost <= left:
            kept.append(group)
            left -= cost
            continue
        if not kept and len(group) == 1:  # the newest message alone is too long: keep its end
            kept.append([_truncate(group[0], max(left, MESSAGE_OVERHEAD_TOKENS + 32))])
        break
    fitted = [m for group in reversed(kept) for m in group]
    dropped = len(turns) - len(fitted)
    if dropped:
        logger.info("context budget %d tokens: dropped %d oldest messages", budget_tokens,
                    dropped)
    return system + fitted
