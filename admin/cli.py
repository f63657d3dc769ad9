"""``voicegate admin create-user``: the first (and any further) dashboard account."""

from __future__ import annotations

import argparse
import getpass
import sys

from config import add_data_argument

from .users import MIN_PASSWORD_LENGTH, ROLES, UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    admin = subparsers.add_parser("admin", help="Admin-Oberfläche verwalten")
    commands = admin.add_subparsers(dest="admin_command", required=True, metavar="BEFEHL")
    create = commands.add_parser("create-user", help="Benutzer für die Admin-Oberfläche anlegen")
    create.add_argument("username", metavar="BENUTZERNAME")
    create.add_argument("--role", choices=sorted(ROLES), default="user",
                        help="admin: darf konfigurieren; user: liest und bearbeitet Chats")
    add_data_argument(create)
    create.add_argument("--password-stdin", action="store_true",
                        help="Passwort von der Standardeingabe lesen (erste Zeile)")
    create.set_defaults(func=cmd_create_user)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass(f"Passwort (mindestens {MIN_PASSWORD_LENGTH} Zeichen): ")
    if getpass.getpass("Passwort wiederholen: ") != password:
        raise UserError("Die Passwörter stimmen nicht überein.")
    return password


def _cli_actor() -> str:
    try:
        return f"Kommandozeile ({getpass.getuser()})"
    except Exception:  # no user name in this environment
        return "Kommandozeile"


def cmd_create_user(args: argparse.Namespace) -> int:
    from config import load_settings
    from models import add_audit, create_db_app, db, upgrade_schema

    from .users import create_user

    settings = load_settings(args.data)
    try:
        password = _read_password(args.password_stdin)
        app = create_db_app(settings.sqlalchemy_url)
        upgrade_schema(app)
        with app.app_context():
            user = create_user(args.username, password, args.role)
            db.session.flush()
            add_audit(db.session, "user.create", actor=_cli_actor(),
                      target=f"Benutzer {user.username}", target_ref=f"user:{user.id}",
                      role=args.role)
            db.session.commit()
    except UserError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return 1
    print(f"Benutzer „{args.username.strip()}“ ({ROLES[args.role]}) angelegt.")
    return 0
