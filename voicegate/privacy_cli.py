"""``voicegate privacy purge|export|erase`` — retention by hand, access and erasure per caller."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from config import Settings, add_data_argument, load_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    privacy = subparsers.add_parser("privacy", help="Datenschutz: Aufbewahrung, Auskunft, Löschung")
    sub = privacy.add_subparsers(dest="privacy_command", required=True, metavar="AKTION")

    purge = sub.add_parser("purge", help="löschen, was älter als die Aufbewahrungsfristen ist")
    purge.add_argument("--dry-run", action="store_true", help="nur zählen, nichts löschen")
    purge.set_defaults(func=cmd_purge)

    export = sub.add_parser("export", help="alle Daten eines Anrufers als ZIP (Art. 15 DSGVO)")
    export.add_argument("--caller", required=True, metavar="NUMMER",
                        help="Anrufernummer in beliebiger Schreibweise (+49…, 0049…, 0…)")
    export.add_argument("--out", required=True, type=Path, metavar="DATEI", help="ZIP-Datei")
    export.set_defaults(func=cmd_export)

    erase = sub.add_parser("erase", help="alle Daten eines Anrufers löschen (Art. 17 DSGVO)")
    erase.add_argument("--caller", required=True, metavar="NUMMER",
                       help="Anrufernummer in beliebiger Schreibweise (+49…, 0049…, 0…)")
    erase.set_defaults(func=cmd_erase)

    for parser in (purge, export, erase):
        add_data_argument(parser)


def _open(args: argparse.Namespace) -> tuple[Settings, object]:
    from models import create_db_app, upgrade_schema

    settings = load_settings(args.data)
    app = create_db_app(settings.sqlalchemy_url)
    upgrade_schema(app)
    return settings, app


def _actor() -> str:
    try:
        return f"Kommandozeile ({getpass.getuser()})"
    except Exception:  # no user name in this environment
        return "Kommandozeile"


def _secret(settings: Settings) -> str:
    from admin import secret_key_for

    return secret_key_for(settings)


def cmd_purge(args: argparse.Namespace) -> int:
    from privacy.deletion import purge_expired

    settings, app = _open(args)
    report = purge_expired(app, settings.recordings_dir, dry_run=args.dry_run)
    if args.dry_run:
        print("Probelauf – nichts wurde gelöscht.")
    for line in report.lines():
        print(line)
    return 0 if report.scrubbed else 1


def cmd_export(args: argparse.Namespace) -> int:
    from models.phone import dialable
    from privacy.export import export_caller

    settings, app = _open(args)
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    report = export_caller(app, settings.recordings_dir, args.caller, out, actor=_actor(),
                           secret=_secret(settings))
    if not report.number:
        print(f"Fehler: „{args.caller}“ ist keine Telefonnummer.", file=sys.stderr)
        out.unlink(missing_ok=True)
        return 2
    if not report.found:
        print(f"Für {dialable(report.number)} sind keine Daten gespeichert "
              f"(leere Auskunft in {out}).")
        return 0
    print(f"{report.chats} Chats und {report.recordings} Aufnahmen von {dialable(report.number)} "
          f"exportiert nach {out}.")
    for path in report.missing:
        print(f"Aufnahme fehlt auf dem Datenträger: {path}", file=sys.stderr)
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    from models.phone import dialable
    from privacy.deletion import erase_caller

    settings, app = _open(args)
    report = erase_caller(app, settings.recordings_dir, args.caller, actor=_actor(),
                          secret=_secret(settings))
    if not report.number:
        print(f"Fehler: „{args.caller}“ ist keine Telefonnummer.", file=sys.stderr)
        return 2
    if not report.found:
        print(f"Für {dialable(report.number)} sind keine Daten gespeichert – nichts gelöscht.")
        return 0
    c = report.counts
    print(f"Gelöscht für {dialable(report.number)}: {c.chats} Chats, {c.turns} Gesprächsbeiträge, "
          f"{c.events} Ereignisse, {c.recordings} Aufnahmen ({c.files} Dateien).")
    if report.running:
        print(f"{report.running} Anruf(e) dieser Nummer laufen gerade und wurden nicht "
              "gelöscht – bitte nach dem Anruf erneut ausführen.", file=sys.stderr)
    if not report.scrubbed:
        print("WARNUNG: Die Datenbankdatei ist noch nicht bereinigt (WAL belegt); "
              "bitte erneut ausführen.", file=sys.stderr)
        return 1
    return 3 if report.running else 0
