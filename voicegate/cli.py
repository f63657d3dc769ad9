"""``voicegate`` — the one console command for a node (and the master)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from config import add_data_argument, load_settings
from config.log_context import configure_logging


def patch_process() -> None:
    """gevent's monkey-patching, exactly as the node runs (``run`` and ``call``): sockets, DNS,
    subprocess, threads and locks become cooperative. The tests of the patched process use this
    same function (tests/test_node_process.py).

    It also keeps OpenBLAS (numpy's matrix maths, used by faster-whisper's feature extraction)
    on the calling thread. The node forks a process per sentence (espeak-ng) while engine
    threads compute, and OpenBLAS's fork handler stops its own thread pool: with BLAS calls
    running on other threads at that moment, the fork and every recognition hung for good
    (20 real calls, tests/test_real_freeswitch_calls.py). The engines' worker threads are the
    parallelism here; an operator's own OPENBLAS_NUM_THREADS is kept. Set before numpy loads."""
    if "numpy" in sys.modules:
        logging.getLogger(__name__).warning("numpy loaded before the node set "
                                            "OPENBLAS_NUM_THREADS")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from gevent import monkey

    monkey.patch_all()


def cmd_run(args: argparse.Namespace) -> int:
    patch_process()
    import gevent
    from gevent.event import Event

    from .node import build_node

    stopping = Event()  # SIGTERM (systemctl stop) or Ctrl-C, also while the models load
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stopping.set)
    overrides = {}
    if args.esl_port is not None:
        overrides["esl_port"] = args.esl_port
    if args.admin_port is not None:
        overrides["admin_port"] = args.admin_port
    settings = load_settings(args.data, **overrides)
    node = build_node(settings)
    node.start()
    print(f"KI-Voicegate läuft: ESL-Controller {settings.esl_host}:{settings.esl_port}, "
          f"Admin http://{settings.admin_host}:{settings.admin_port}/ "
          f"(Daten: {settings.data_dir.resolve()})", flush=True)
    if not _has_users(node):
        print("Noch kein Admin-Zugang: `voicegate admin create-user NAME --role admin "
              f"--data {settings.data_dir}` legt den ersten an.", file=sys.stderr)
    if not node.services.engines_ready:
        print("ACHTUNG: Sprach-Engines nicht bereit — Anrufe gehen an die Ersatzweiterleitung:",
              file=sys.stderr)
        for problem in node.services.engine_problems:
            print(f"  - {problem}", file=sys.stderr)
    stopping.wait()
    calls = node.controller.active_calls
    running = {0: "", 1: ": 1 laufender Anruf geht an die Ersatzweiterleitung"}.get(
        calls, f": {calls} laufende Anrufe gehen an die Ersatzweiterleitung")
    print(f"KI-Voicegate wird beendet{running} …", file=sys.stderr, flush=True)
    node.stop()
    print("KI-Voicegate beendet.", file=sys.stderr, flush=True)
    return 0


def _has_users(node) -> bool:
    from models import User, db

    with node.db_app.app_context():
        return db.session.scalar(db.select(User.id).limit(1)) is not None


def cmd_demo(args: argparse.Namespace) -> int:
    from agents.demo import seed_demo
    from models import create_db_app, db, upgrade_schema

    settings = load_settings(args.data)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_db_app(settings.sqlalchemy_url)
    upgrade_schema(app)
    with app.app_context():
        summary = seed_demo(db.session)
        db.session.commit()
    print(f"Demo-Kunde angelegt in {settings.data_dir.resolve()}: {summary}")
    return 0


def cmd_call(args: argparse.Namespace) -> int:
    patch_process()
    from .test_call import place_test_call

    settings = load_settings(args.data)
    return place_test_call(settings, args.number, caller=args.caller, says=args.say or [],
                           host=args.host, port=args.port or settings.esl_port,
                           timeout_s=args.timeout, heard=args.heard)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voicegate", description="KI-Voicegate: KI-Agenten am Telefon (Kunden-VM und Master)")
    parser.add_argument("-v", "--verbose", action="store_true", help="ausführliches Log")
    sub = parser.add_subparsers(dest="command", required=True, metavar="BEFEHL")

    run = sub.add_parser("run", help="Knoten starten: ESL-Controller, Admin, Scheduler")
    add_data_argument(run)
    run.add_argument("--esl-port", type=int, default=None, help="Standard 8084")
    run.add_argument("--admin-port", type=int, default=None, help="Standard 8080")
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="Demo-Kunden (Nummern, Zeitfenster, Agenten) anlegen")
    add_data_argument(demo)
    demo.set_defaults(func=cmd_demo)

    call = sub.add_parser("call", help="Testanruf über den FreeSWITCH-Stand-in, Gespräch ausgeben")
    add_data_argument(call)
    call.add_argument("number", help="angerufene Nummer, z. B. 4930123456")
    call.add_argument("--caller", default="491701234567", help="Nummer des Anrufers")
    call.add_argument("--say", action="append", metavar="TEXT",
                      help="was der Anrufer sagt (espeak-ng); mehrfach angeben")
    call.add_argument("--host", default="127.0.0.1")
    call.add_argument("--port", type=int, default=None, help="ESL-Port des Controllers")
    call.add_argument("--timeout", type=float, default=120.0, help="Sekunden bis Abbruch")
    call.add_argument("--heard", type=Path, default=None, metavar="WAV",
                      help="was der Anrufer vom Agenten hörte, als WAV-Datei speichern")
    call.set_defaults(func=cmd_call)

    def register(module: str, commands: argparse._SubParsersAction) -> None:
        try:
            __import__(module, fromlist=["register"]).register(commands)
        except ImportError as exc:  # a part not installed on this machine
            logging.getLogger(__name__).debug("%s not available: %s", module, exc)

    for module in ("voicegate.models_cli", "voicegate.privacy_cli", "admin.cli"):
        register(module, sub)
    master = sub.add_parser(
        "master", help="Master-Server betreiben, Knoten registrieren und abgleichen")
    master_commands = master.add_subparsers(dest="master_command", required=True,
                                            metavar="BEFEHL")
    for module in ("master.cli", "node_sync.cli"):  # the server's commands, then the node's side
        register(module, master_commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(logging.DEBUG if args.verbose else logging.INFO)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
