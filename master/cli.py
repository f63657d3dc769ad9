"""``voicegate master …``: run the master, manage its CA, nodes and operators; enrol a node.

Registered by ``voicegate.cli`` through ``register(subparsers)``; each command's handler takes the
parsed arguments and returns the exit code.
"""

from __future__ import annotations

import argparse
import getpass
import json
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


def cmd_enroll(args: argparse.Namespace) -> int:
    from node_sync.client import EnrollmentError, enroll

    try:
        enrollment = enroll(args.master, args.token, args.ca, args.data)
    except (EnrollmentError, OSError, ValueError) as exc:
        print(f"Registrierung fehlgeschlagen: {exc}", file=sys.stderr)
        return 1
    print(f"Registriert als Knoten {enrollment.node_name} beim Master {enrollment.master_url}. "
          "Der Abgleich läuft mit 'voicegate run'.")
    return 0


def _node_db_app(data_dir: Path) -> Any:
    from config import load_settings
    from models import create_db_app, upgrade_schema

    app = create_db_app(load_settings(data_dir).sqlalchemy_url)
    upgrade_schema(app)
    return app


def cmd_sync(args: argparse.Namespace) -> int:
    from node_sync.client import NodeSync

    result = NodeSync(args.data, _node_db_app(args.data)).sync_once()
    if result.ok:
        new = ", ".join(result.new_numbers) or "keine"
        print(f"Abgleich erfolgreich. Neue Rufnummern: {new}.")
        return 0
    print(f"Abgleich fehlgeschlagen: {result.error}", file=sys.stderr)
    return 1


def cmd_status(args: argparse.Namespace) -> int:
    from node_sync.client import last_sync_status

    status = last_sync_status(args.data)
    print(json.dumps(status, indent=2, ensure_ascii=False, default=str))
    return 0 if status["status"] in {"ok", "wartet"} else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``master`` with its sub-commands to the ``voicegate`` command."""
    master = subparsers.add_parser(
        "master", help="Master-Server betreiben, Knoten registrieren und abgleichen")
    sub = master.add_subparsers(dest="master_command", required=True, metavar="BEFEHL")

    def master_data(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--data", type=Path, default=DEFAULT_MASTER_DATA,
                            help="Datenordner des Masters (Standard: ./master-data)")

    def node_data(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--data", type=Path, required=True,
                            help="Datenordner des Knotens (wie bei 'voicegate run')")

    p = sub.add_parser("init-ca", help="CA und Server-Zertifikat des Masters erzeugen")
    master_data(p)
    p.add_argument("--host", action="append",
                   help="Hostname oder IP, unter der die Knoten den Master erreichen (mehrfach)")
    p.set_defaults(func=cmd_init_ca)

    p = sub.add_parser("run", help="Master starten (HTTPS, Betreiber-Oberfläche und Knoten-API)")
    master_data(p)
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=8443)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("add-node", help="Knoten anlegen und Einmal-Token ausgeben")
    master_data(p)
    p.add_argument("name")
    p.add_argument("--customer", default="", help="Kundenname")
    p.add_argument("--address", default="", help="Adresse der VM")
    p.set_defaults(func=cmd_add_node)

    p = sub.add_parser("token", help="neues Einmal-Token für einen Knoten (Neuregistrierung)")
    master_data(p)
    p.add_argument("name")
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("revoke", help="Knoten sperren und seine Zertifikate widerrufen")
    master_data(p)
    p.add_argument("name")
    p.set_defaults(func=cmd_revoke)

    p = sub.add_parser("add-operator", help="Betreiber-Zugang anlegen oder Passwort ändern")
    master_data(p)
    p.add_argument("username")
    p.add_argument("--password-stdin", action="store_true",
                   help="Passwort aus der ersten Zeile der Standardeingabe lesen")
    p.set_defaults(func=cmd_add_operator)

    p = sub.add_parser("enroll", help="(auf der Kunden-VM) beim Master registrieren")
    node_data(p)
    p.add_argument("--master", required=True, help="z. B. https://master.example.de:8443")
    p.add_argument("--token", required=True, help="Einmal-Token aus 'voicegate master add-node'")
    p.add_argument("--ca", type=Path, required=True, help="ca.crt des Masters")
    p.set_defaults(func=cmd_enroll)

    p = sub.add_parser("sync", help="(auf der Kunden-VM) jetzt einmal abgleichen")
    node_data(p)
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser("status", help="(auf der Kunden-VM) Zustand der Verbindung zum Master")
    node_data(p)
    p.set_defaults(func=cmd_status)
