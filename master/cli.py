"""``voicegate master init-ca|run|add-node|token|revoke|add-operator``: the master server's
commands (run it, manage its CA, nodes and operators).

``voicegate.cli`` adds them to its ``master`` group through ``register(commands)``, beside the
node-side ``enroll|sync|status`` from ``node_sync.cli``. Each handler takes the parsed arguments
and returns the exit code.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_MASTER_DATA = Path("master-data")


def _master_app(data_dir: Path) -> Any:
    from .app import create_master_app

    return create_master_app(data_dir)


def _with_node(app: Any, name: str, fn: Callable[[Any], int]) -> int:
    from .overview import find_node

    with app.app_context():
        node = find_node(name)
        if node is None:
            print(f"Knoten {name} unbekannt.", file=sys.stderr)
            return 1
        return fn(node)


def cmd_init_ca(args: argparse.Namespace) -> int:
    from .pki import MasterPki

    hosts = args.host or ["localhost", "127.0.0.1", socket.getfqdn()]
    pki = MasterPki(args.data / "pki")
    pki.init(list(dict.fromkeys(hosts)))
    print(f"CA und Server-Zertifikat in {pki.directory.resolve()}.")
    print(f"Diese Datei auf jede Kunden-VM kopieren (für 'voicegate master enroll --ca'): "
          f"{pki.ca_cert.resolve()}")
    return 0


def cmd_add_node(args: argparse.Namespace) -> int:
    from . import registry

    app = _master_app(args.data)
    with app.app_context():
        try:
            node = registry.create_node(args.name, args.customer, args.address)
        except registry.RegistryError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        token = registry.issue_token(node, app.config["ENROLL_TOKEN_HOURS"])
    _print_token(args.name, token, app.config["ENROLL_TOKEN_HOURS"])
    return 0


def _print_token(name: str, token: str, hours: int) -> None:
    print(f"Einmal-Token für Knoten {name} (gültig {hours} h, wird nur jetzt angezeigt):")
    print(token)


def cmd_token(args: argparse.Namespace) -> int:
    from . import registry

    app = _master_app(args.data)
    hours = app.config["ENROLL_TOKEN_HOURS"]

    def issue(node: Any) -> int:
        if node.state == "gesperrt":
            node.state = "wartet"
        _print_token(node.name, registry.issue_token(node, hours), hours)
        return 0

    return _with_node(app, args.name, issue)


def cmd_revoke(args: argparse.Namespace) -> int:
    from . import registry

    def revoke(node: Any) -> int:
        count = registry.revoke_node(node)
        print(f"Knoten {node.name} gesperrt, {count} Zertifikat(e) widerrufen.")
        return 0

    return _with_node(_master_app(args.data), args.name, revoke)


def cmd_add_operator(args: argparse.Namespace) -> int:
    from . import registry

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Passwort: ")
        if getpass.getpass("Passwort wiederholen: ") != password:
            print("Die Passwörter stimmen nicht überein.", file=sys.stderr)
            return 1
    app = _master_app(args.data)
    with app.app_context():
        try:
            registry.set_operator(args.username, password)
        except registry.RegistryError as exc:
            print(str(exc), file=sys.stderr)
            return 1
    print(f"Betreiber-Zugang {args.username} gespeichert.")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .server import MasterServer

    app = _master_app(args.data)
    pki = app.extensions["voicegate_master_pki"]
    server = MasterServer(args.host, args.port, app, pki.server_context())
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    print(f"Master läuft auf https://{args.host}:{server.port}/ (Daten: {args.data.resolve()})",
          flush=True)
    stop.wait()
    server.stop()
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add the server's commands to the ``voicegate master`` group."""

    def master_data(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--data", type=Path, default=DEFAULT_MASTER_DATA,
                            help="Datenordner des Masters (Standard: ./master-data)")

    p = commands.add_parser("init-ca", help="CA und Server-Zertifikat des Masters erzeugen")
    master_data(p)
    p.add_argument("--host", action="append",
                   help="Hostname oder IP, unter der die Knoten den Master erreichen (mehrfach)")
    p.set_defaults(func=cmd_init_ca)

    p = commands.add_parser(
        "run", help="Master starten (HTTPS, Betreiber-Oberfläche und Knoten-API)")
    master_data(p)
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=8443)
    p.set_defaults(func=cmd_run)

    p = commands.add_parser("add-node", help="Knoten anlegen und Einmal-Token ausgeben")
    master_data(p)
    p.add_argument("name")
    p.add_argument("--customer", default="", help="Kundenname")
    p.add_argument("--address", default="", help="Adresse der VM")
    p.set_defaults(func=cmd_add_node)

    p = commands.add_parser("token", help="neues Einmal-Token für einen Knoten (Neuregistrierung)")
    master_data(p)
    p.add_argument("name")
    p.set_defaults(func=cmd_token)

    p = commands.add_parser("revoke", help="Knoten sperren und seine Zertifikate widerrufen")
    master_data(p)
    p.add_argument("name")
    p.set_defaults(func=cmd_revoke)

    p = commands.add_parser("add-operator", help="Betreiber-Zugang anlegen oder Passwort ändern")
    master_data(p)
    p.add_argument("username")
    p.add_argument("--password-stdin", action="store_true",
                   help="Passwort aus der ersten Zeile der Standardeingabe lesen")
    p.set_defaults(func=cmd_add_operator)
