"""Reads FreeSWITCH XML dialplans the way ``mod_dialplan_xml`` hunts them (a faithful subset),
so the FreeSWITCH stand-in can run the real dialplan: what happens before the ``socket`` app,
and after it returns or fails to connect.

Supported (``dialplan_hunt``/``parse_exten`` in ``src/mod/dialplans/mod_dialplan_xml``):
extensions in file order, ``continue="true"`` on an extension, several ``condition`` elements
per extension with ``field``/``expression`` (PCRE search; Python ``re`` here) and ``break``
(``on-false`` default, ``on-true``, ``always``, ``never``), ``action``/``anti-action``, and
``$1``…``$9`` in action data from the captures of the condition that added the action.
Anything else (nested conditions, ``regex="all"``, time-of-day conditions) raises
``ValueError`` rather than being silently misread.

Variables: FreeSWITCH expands ``$${name}`` once when it loads the XML (unknown names become
"") and ``${name}`` when each application runs. ``load_vars`` reads a vars.xml fragment; pass
its result as ``variables`` to have both forms replaced. Unknown names are *kept as written*
(FreeSWITCH would make them empty) so a test can see what was not known.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)

CONF_DIR = Path(__file__).resolve().parent
DIALPLAN_PATH = CONF_DIR / "dialplan" / "voicegate.xml"
VARS_PATH = CONF_DIR / "vars.xml"
SOUNDS_DIR = CONF_DIR / "sounds"

_PRE_VAR = re.compile(r"\$\$\{([^{}]+)\}")
_RUN_VAR = re.compile(r"(?<!\$)\$\{([^{}]+)\}")
_CAPTURE = re.compile(r"\$(\d)")
_SET = re.compile(r"<X-PRE-PROCESS\s+cmd=\"set\"\s+data=\"([^\"]*)\"", re.IGNORECASE)
_BREAKS = ("on-false", "on-true", "always", "never")


def load_vars(path: str | Path = VARS_PATH, predefined: Mapping[str, str] | None = None
              ) -> dict[str, str]:
    """Global variables set by ``<X-PRE-PROCESS cmd="set" data="name=value"/>`` lines.

    Like FreeSWITCH's preprocessor (``preprocess`` in ``src/switch_xml.c``): line by line,
    ``$${name}`` expanded from what is known so far (``predefined`` first, e.g. FreeSWITCH's
    own ``sounds_dir``; unknown names become ""), spaces around "=" stripped, no XML entity
    decoding, commented-out lines ignored.
    """
    known: dict[str, str] = dict(predefined or {})
    in_comment = False
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        text = line
        if in_comment:
            if "-->" not in text:
                continue
            text = text.split("-->", 1)[1]
            in_comment = False
        text = re.sub(r"<!--.*?-->", "", text)
        if "<!--" in text:
            text, in_comment = text.split("<!--", 1)[0], True
        text = _PRE_VAR.sub(lambda m: known.get(m.group(1), ""), text)
        for data in _SET.findall(text):
            name, sep, value = data.partition("=")
            if sep:
                known[name.strip()] = value.strip(" ")
    return known


def local_variables(vars_path: str | Path = VARS_PATH) -> dict[str, str]:
    """The globals of ``vars_path`` as on an installed VM (Debian paths, ``domain`` =
    127.0.0.1), but with the sounds pointing at this checkout (``freeswitch_conf/sounds``), for
    running the dialplan in tests."""
    variables = load_vars(
        vars_path, {"sounds_dir": "/usr/share/freeswitch/sounds", "domain": "127.0.0.1"}
    )
    variables["voicegate_sounds_dir"] = str(SOUNDS_DIR)
    return variables


def expand(text: str, variables: Mapping[str, str]) -> str:
    """Replace ``$${name}`` and ``${name}`` with known values; unknown ones stay as written."""
    text = _PRE_VAR.sub(lambda m: variables.get(m.group(1), m.group(0)), text)
    return _RUN_VAR.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


def load_extension_actions(
    xml_path: str | Path,
    context: str,
    destination_number: str,
    variables: Mapping[str, str] | None = None,
    *,
    fields: Mapping[str, str] | None = None,
) -> list[tuple[str, str]]:
    """The ``(application, data)`` list FreeSWITCH would run for ``destination_number`` in
    ``context`` of the dialplan at ``xml_path``; empty if no extension matches (FreeSWITCH
    then hangs up with NO_ROUTE_DESTINATION). ``fields`` adds other condition fields
    (e.g. ``caller_id_number``); ``variables`` see the module docstring."""
    root = ET.parse(xml_path).getroot()
    ctx = _find_context(root, context)
    if ctx is None:
        raise ValueError(f"no context {context!r} in {xml_path}")
    values = {"destination_number": destination_number, **(fields or {})}
    actions: list[tuple[str, str]] = []
    for extension in ctx.findall("extension"):
        matched, found = _run_extension(extension, values)
        actions.extend(found)
        if matched and extension.get("continue", "false").lower() != "true":
            break
    if variables is not None:
        actions = [(app, expand(data, variables)) for app, data in actions]
    return actions


def _find_context(root: ET.Element, name: str) -> ET.Element | None:
    candidates = [root] if root.tag == "context" else root.iter("context")
    for ctx in candidates:
        if ctx.get("name") == name:
            return ctx
    return None


def _run_extension(extension: ET.Element, values: Mapping[str, str]
                   ) -> tuple[bool, list[tuple[str, str]]]:
    """(whether the hunt stops here, actions added) for one extension.

    As in ``parse_exten``: the result is that of the last condition evaluated (a failed one
    with anti-actions counts as matched), and actions of earlier passing conditions are kept
    even when a later one fails.
    """
    proceed = False
    actions: list[tuple[str, str]] = []
    name = extension.get("name", "?")
    for condition in extension.findall("condition"):
        if condition.find("condition") is not None or condition.get("regex") is not None:
            raise ValueError(f"extension {name!r}: nested/regex conditions are not supported")
        unsupported = set(condition.attrib) - {"field", "expression", "break"}
        if unsupported:
            raise ValueError(f"extension {name!r}: unsupported condition attributes "
                             f"{sorted(unsupported)}")
        brk = condition.get("break", "on-false")
        if brk not in _BREAKS:
            raise ValueError(f"extension {name!r}: unknown break={brk!r}")
        passed, match = _evaluate(condition, values, name)
        elements = condition.findall("action" if passed else "anti-action")
        for element in elements:
            data = element.get("data", "")
            if match is not None:
                data = _CAPTURE.sub(lambda m, mt=match: _group(mt, int(m.group(1))), data)
            actions.append((element.get("application", ""), data))
        proceed = passed or bool(elements)
        if brk == "always" or (brk == "on-false" and not passed) or (brk == "on-true" and passed):
            break
    return proceed, actions


def _evaluate(condition: ET.Element, values: Mapping[str, str], name: str
              ) -> tuple[bool, re.Match[str] | None]:
    field = condition.get("field")
    expression = condition.get("expression")
    if field is None and expression is None:
        return True, None
    if field is None or expression is None:
        raise ValueError(f"extension {name!r}: condition needs both field and expression")
    if field not in values:
        raise ValueError(f"extension {name!r}: condition field {field!r} is not known here")
    match = re.search(expression, values[field], re.ASCII)
    return match is not None, match


def _group(match: re.Match[str], index: int) -> str:
    try:
        return match.group(index) or ""
    except IndexError:
        return ""
