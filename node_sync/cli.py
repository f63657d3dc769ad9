"""``voicegate master enroll|sync|status`` on the customer VM: the node's side of the master link.

The commands sit beside the master server's own under ``voicegate master`` (the operator thinks
of them as one topic); ``voicegate.cli`` adds both sets to that group through
``register(commands)``. Each handler takes the parsed arguments and returns the exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from config import add_data_argument


def cmd_enroll(args: argparse.Namespace) -> int:
    from .client import EnrollmentError, enroll

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
    from .client import NodeSync

    result = NodeSync(args.data, _node_db_app(args.data)).sync_once()
    if result.ok:
        new = ", ".join(result.new_numbers) or "keine"
        print(f"Abgleich erfolgreich. Neue Rufnummern: {new}.")
        return 0
    print(f"Abgleich fehlgeschlagen: {result.error}", file=sys.stderr)
    return 1


def cmd_status(args: argparse.Namespace) -> int:
    from .client import last_sync_status

    status = last_sync_status(args.data)
    print(json.dumps(status, indent=2, ensure_ascii=False, default=str))
    return 0 if status["status"] in {"ok", "wartet"} else 1


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``enroll``, ``sync`` and ``status`` to the ``voicegate master`` group."""

    p = commands.add_parser("enroll", help="(auf der Kunden-VM) beim Master registrieren")
    add_data_argument(p, required=True)
    p.add_argument("--master", required=True, help="z. B. https://master.example.de:8443")
    p.add_argument("--token", required=True, help="Einmal-Token aus 'voicegate master add-node'")
    p.add_argument("--ca", type=Path, required=True, help="ca.crt des Masters")
    p.set_defaults(func=cmd_enroll)

    p = commands.add_parser("sync", help="(auf der Kunden-VM) jetzt einmal abgleichen")
    add_data_argument(p, required=True)
    p.set_defaults(func=cmd_sync)

    p = commands.add_parser("status", help="(auf der Kunden-VM) Zustand der Verbindung zum Master")
    add_data_argument(p, required=True)
    p.set_defaults(func=cmd_status)
