"""Writes FreeSWITCH's ``vars.xml`` fragment from the customer's settings.

The node calls ``write_vars`` whenever the fallback number, voicemail box or controller hosts
change, then asks FreeSWITCH to ``reloadxml``. The dialplan reads these global variables at
call time (``${voicegate_fallback_number}`` falls back to the global variable when the channel
has none: ``switch_channel_get_variable_dup`` in ``src/switch_channel.c``).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_VOICEMAIL_BOX = "voicegate"
DEFAULT_ESL_HOSTS = ("127.0.0.1:8084",)

_NUMBER_SEPARATORS = re.compile(r"[\s()/.\-]")
_NUMBER = re.compile(r"\+?[0-9]{2,20}", re.ASCII)
_BOX = re.compile(r"[A-Za-z0-9_.\-]{1,40}", re.ASCII)
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.\-]{0,252}[A-Za-z0-9])?", re.ASCII)

_HEADER = """\
<!-- KI-Voicegate: written by the node (freeswitch_conf/render.py) when the customer's settings
     change; FreeSWITCH reads it at start and on "reloadxml". Do not edit by hand. -->
"""


def clean_fallback_number(raw: str) -> str:
    """The fallback number as the carrier gateway dials it: separators removed, "+" kept.

    Empty stays empty (then the fallback bridge fails at once and the caller reaches the
    voicemail). Anything else that is not 2–20 digits (with an optional leading "+") raises
    ``ValueError``: this string ends up inside a dial string, so "|" or "," must never pass.

    Not ``models.phone``: freeswitch_conf sits on the models layer and may import only
    ``config`` (tests/test_layers.py). The admin already stores the number through
    ``models.phone.dial_form``; this is the last guard before FreeSWITCH reads it.
    """
    number = _NUMBER_SEPARATORS.sub("", raw.strip())
    if number and not _NUMBER.fullmatch(number):
        raise ValueError(f"Ungültige Rückfallnummer: {raw!r} (erlaubt: Ziffern, optional mit +)")
    return number


def clean_esl_hosts(esl_hosts: str | Sequence[str]) -> str:
    """``host:port`` entries joined by "|" as the ``socket`` app expects (tried in order)."""
    items = esl_hosts.split("|") if isinstance(esl_hosts, str) else list(esl_hosts)
    cleaned: list[str] = []
    for item in items:
        host, sep, port = item.strip().rpartition(":")
        if not sep or not _HOST.fullmatch(host) or not port.isascii() or not port.isdigit() \
                or not 0 < int(port) < 65536:
            raise ValueError(f"Ungültige Controller-Adresse: {item!r} (erwartet: host:port)")
        cleaned.append(f"{host}:{int(port)}")
    if not cleaned:
        raise ValueError("Mindestens eine Controller-Adresse (host:port) ist nötig.")
    return "|".join(cleaned)


def render_vars(
    fallback_number: str,
    voicemail_box: str,
    esl_hosts: str | Sequence[str] = DEFAULT_ESL_HOSTS,
) -> str:
    """The ``vars.xml`` fragment for these settings (deterministic: same input, same text).

    Raises ``ValueError`` (German message) for a value FreeSWITCH must not see.
    """
    box = voicemail_box.strip() or DEFAULT_VOICEMAIL_BOX
    if not _BOX.fullmatch(box):
        raise ValueError(
            f"Ungültiges Sprachpostfach: {voicemail_box!r} (erlaubt: Buchstaben, Ziffern, _ . -)"
        )
    values = [
        ("voicegate_fallback_number", clean_fallback_number(fallback_number)),
        ("voicegate_voicemail_box", box),
        ("voicegate_esl_hosts", clean_esl_hosts(esl_hosts)),
        # $${sounds_dir} is FreeSWITCH's own global; make_sounds.sh output is installed below it
        ("voicegate_sounds_dir", "$${sounds_dir}/voicegate"),
    ]
    # FreeSWITCH's preprocessor reads data="…" up to the next quote and decodes no XML
    # entities, so values must be plain; the checks above guarantee that.
    lines = [f'  <X-PRE-PROCESS cmd="set" data="{k}={v}"/>' for k, v in values]
    return _HEADER + "<include>\n" + "\n".join(lines) + "\n</include>\n"


def write_vars(path: str | Path, content: str) -> bool:
    """Write ``content`` to ``path`` atomically; False (and nothing written) if unchanged."""
    target = Path(path)
    try:
        if target.read_text(encoding="utf-8") == content:
            return False
    except FileNotFoundError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".vars-", suffix=".xml", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("wrote %s", target)
    return True
