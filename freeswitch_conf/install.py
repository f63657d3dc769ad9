"""Installs this folder's FreeSWITCH configuration into a FreeSWITCH config directory.

The steps of ``freeswitch_conf/README.md`` ("Install") as one function, so an operator and the
test suite (``tests/real_freeswitch.py``) install the very same files the same way:

    python -m freeswitch_conf.install --conf /etc/freeswitch \\
        --sounds /usr/share/freeswitch/sounds \\
        --carrier-realm sip.carrier.example --carrier-proxy sip.carrier.example \\
        --carrier-username USER --carrier-password PASSWORD

What it does (idempotent: running it twice changes nothing the second time):

1. ``<conf>/voicegate/vars.xml`` (the node's globals, ``render.render_vars``) and the line
   ``<X-PRE-PROCESS cmd="include" data="voicegate/vars.xml"/>`` on its own line before the
   closing ``</include>`` of ``<conf>/vars.xml`` (FreeSWITCH's preprocessor silently drops a
   line that holds ``</include>`` and anything else);
2. ``autoload_configs/event_socket.conf.xml`` with the ESL password (random unless given) and
   listen address;
3. ``sip_profiles/voicegate.xml`` with the carrier's realm, proxy and credentials filled in;
4. ``dialplan/voicegate.xml`` and ``directory/default/voicegate.xml`` (the voicemail box);
5. the German announcements into ``<sounds>/voicegate/de/``;
6. the vanilla ``internal``/``external`` SIP profiles moved off (``*.xml.off``): the VM has no
   phones and they would hold port 5060.

Then restart FreeSWITCH (or ``fs_cli -x reloadxml`` plus ``sofia profile voicegate start``).
"""

from __future__ import annotations

import argparse
import re
import secrets
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .render import DEFAULT_ESL_HOSTS, DEFAULT_VOICEMAIL_BOX, render_vars, write_vars

CONF_DIR = Path(__file__).resolve().parent
VARS_INCLUDE = '<X-PRE-PROCESS cmd="include" data="voicegate/vars.xml"/>'
VANILLA_PROFILES = ("internal.xml", "external.xml")


@dataclass(frozen=True)
class Carrier:
    """The SIP trunk the gateway ``carrier`` registers with and dials out through."""

    realm: str
    proxy: str = ""  # empty: the realm
    username: str = ""
    password: str = ""
    register: bool = True


@dataclass(frozen=True)
class Installed:
    """What was installed where; ``esl_password`` is what fs_cli / the ESL clients need."""

    conf_dir: Path
    sounds_dir: Path
    esl_password: str
    files: list[Path] = field(default_factory=list)


def install(
    conf_dir: str | Path,
    sounds_dir: str | Path,
    carrier: Carrier,
    *,
    esl_password: str | None = None,
    esl_listen: tuple[str, int] = ("127.0.0.1", 8021),
    sip_ip: str | None = None,
    sip_port: int = 5060,
    fallback_number: str = "",
    voicemail_box: str = DEFAULT_VOICEMAIL_BOX,
    esl_hosts: str | Sequence[str] = DEFAULT_ESL_HOSTS,
    move_vanilla_profiles: bool = True,
) -> Installed:
    """Install into ``conf_dir`` (``/etc/freeswitch``) and ``sounds_dir``
    (``/usr/share/freeswitch/sounds``, FreeSWITCH's ``$${sounds_dir}``).

    ``sip_ip``: the address the ``voicegate`` profile binds (default FreeSWITCH's
    ``$${local_ip_v4}``). ``esl_password``: kept if the installed file already has one and none
    is given, else a random one. Raises ``ValueError`` (German) for values FreeSWITCH must not
    see, ``FileNotFoundError`` when ``conf_dir`` has no ``vars.xml`` (not a FreeSWITCH config).
    """
    conf = Path(conf_dir)
    sounds = Path(sounds_dir)
    main_vars = conf / "vars.xml"
    if not main_vars.is_file():
        raise FileNotFoundError(
            f"{main_vars} fehlt: {conf} ist kein FreeSWITCH-Konfigurationsordner")
    _check_plain("Carrier-Realm", carrier.realm, allow_empty=False)
    for label, value in (("Carrier-Proxy", carrier.proxy), ("Carrier-Benutzer", carrier.username),
                         ("Carrier-Passwort", carrier.password)):
        _check_plain(label, value)
    files: list[Path] = []

    # 1. the node's globals, and the include that makes FreeSWITCH read them
    vars_path = conf / "voicegate" / "vars.xml"
    write_vars(vars_path, render_vars(fallback_number, voicemail_box, esl_hosts))
    files.append(vars_path)
    _add_vars_include(main_vars)

    # 2. inbound event socket
    esl_file = conf / "autoload_configs" / "event_socket.conf.xml"
    password = esl_password or _installed_esl_password(esl_file) or secrets.token_hex(16)
    _check_plain("ESL-Passwort", password, allow_empty=False)
    text = (CONF_DIR / "autoload_configs" / "event_socket.conf.xml").read_text(encoding="utf-8")
    text = text.replace("VOICEGATE_ESL_PASSWORD", password)
    text = _set_param(text, "listen-ip", esl_listen[0])
    text = _set_param(text, "listen-port", str(int(esl_listen[1])))
    files.append(_write(esl_file, text))

    # 3. the carrier profile and its gateway
    text = (CONF_DIR / "sip_profiles" / "voicegate.xml").read_text(encoding="utf-8")
    text = (text.replace("VOICEGATE_CARRIER_REALM", carrier.realm)
                .replace("VOICEGATE_CARRIER_PROXY", carrier.proxy or carrier.realm)
                .replace("VOICEGATE_CARRIER_USERNAME", carrier.username)
                .replace("VOICEGATE_CARRIER_PASSWORD", carrier.password))
    text = _set_param(text, "register", "true" if carrier.register else "false")
    text = _set_param(text, "sip-port", str(int(sip_port)))
    if sip_ip:
        for name in ("sip-ip", "rtp-ip", "ext-sip-ip", "ext-rtp-ip"):
            text = _set_param(text, name, sip_ip)
    files.append(_write(conf / "sip_profiles" / "voicegate.xml", text))

    # 4. dialplan and voicemail box
    files.append(_copy(CONF_DIR / "dialplan" / "voicegate.xml",
                       conf / "dialplan" / "voicegate.xml"))
    files.append(_copy(CONF_DIR / "directory" / "voicegate.xml",
                       conf / "directory" / "default" / "voicegate.xml"))

    # 5. announcements
    for wav in sorted((CONF_DIR / "sounds" / "de").glob("*.wav")):
        files.append(_copy(wav, sounds / "voicegate" / "de" / wav.name))

    # 6. no vanilla phone profiles on the carrier's port
    if move_vanilla_profiles:
        for name in VANILLA_PROFILES:
            profile = conf / "sip_profiles" / name
            if profile.exists():
                profile.rename(profile.with_name(name + ".off"))
    return Installed(conf_dir=conf, sounds_dir=sounds, esl_password=password, files=files)


def _check_plain(label: str, value: str, *, allow_empty: bool = True) -> None:
    """Values end up inside XML attribute values that FreeSWITCH does not entity-decode."""
    if not value and not allow_empty:
        raise ValueError(f"{label} fehlt")
    if re.search(r'[\s"<>&\']', value):
        raise ValueError(f"{label} darf keine Leerzeichen, Anführungszeichen, <, > oder & "
                         f"enthalten: {value!r}")


def _set_param(text: str, name: str, value: str) -> str:
    pattern = re.compile(rf'(<param name="{re.escape(name)}" value=")[^"]*(")')
    if not pattern.search(text):
        raise ValueError(f"param {name!r} not found")
    return pattern.sub(lambda m: m.group(1) + value + m.group(2), text, count=1)


def _installed_esl_password(path: Path) -> str:
    try:
        match = re.search(r'<param name="password" value="([^"]*)"', path.read_text("utf-8"))
    except (OSError, ValueError):
        return ""
    value = match.group(1) if match else ""
    # FreeSWITCH's own default, a preprocessor variable or our placeholder: not a real password
    return "" if value in ("ClueCon", "VOICEGATE_ESL_PASSWORD") or "$" in value else value


def _add_vars_include(main_vars: Path) -> None:
    text = main_vars.read_text(encoding="utf-8")
    if VARS_INCLUDE in text:
        return
    index = text.rfind("</include>")
    if index < 0:
        raise ValueError(f"{main_vars} hat kein schließendes </include>")
    line_start = text.rfind("\n", 0, index) + 1
    if text[line_start:index].strip():  # "</include>" shares its line: give it its own
        text = text[:index] + "\n" + text[index:]
        line_start = index + 1
    _write(main_vars, text[:line_start] + "  " + VARS_INCLUDE + "\n" + text[line_start:])


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m freeswitch_conf.install",
        description="KI-Voicegate-Konfiguration in FreeSWITCH installieren")
    parser.add_argument("--conf", default="/etc/freeswitch", help="FreeSWITCH-Konfiguration")
    parser.add_argument("--sounds", default="/usr/share/freeswitch/sounds",
                        help="FreeSWITCHs sounds_dir")
    parser.add_argument("--carrier-realm", required=True)
    parser.add_argument("--carrier-proxy", default="")
    parser.add_argument("--carrier-username", default="")
    parser.add_argument("--carrier-password", default="")
    parser.add_argument("--no-register", action="store_true",
                        help="Gateway nicht registrieren (Trunk mit IP-Authentifizierung)")
    parser.add_argument("--esl-password", default=None, help="Standard: vorhandenes oder zufällig")
    parser.add_argument("--esl-hosts", default="|".join(DEFAULT_ESL_HOSTS),
                        help="Controller host:port (mehrere mit |)")
    parser.add_argument("--fallback-number", default="")
    parser.add_argument("--keep-vanilla-profiles", action="store_true")
    args = parser.parse_args(argv)
    try:
        done = install(args.conf, args.sounds,
                       Carrier(realm=args.carrier_realm, proxy=args.carrier_proxy,
                               username=args.carrier_username, password=args.carrier_password,
                               register=not args.no_register),
                       esl_password=args.esl_password, esl_hosts=args.esl_hosts,
                       fallback_number=args.fallback_number,
                       move_vanilla_profiles=not args.keep_vanilla_profiles)
    except (OSError, ValueError) as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return 1
    for path in done.files:
        print(f"installiert: {path}")
    print(f"ESL-Passwort (für fs_cli -p und freeswitch_esl_password in voicegate.toml): "
          f"{done.esl_password}")
    print("Jetzt FreeSWITCH neu starten; dann: "
          "fs_cli -p PASSWORT -x \"sofia status gateway carrier\"")
    return 0


if __name__ == "__main__":
    sys.exit(main())
