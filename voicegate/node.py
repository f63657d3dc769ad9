"""The customer VM's node process: ESL controller, admin, status endpoint and scheduler in one
gevent process (``voicegate run``).

This is the composition root: everything that runs beside the call sessions is built and
started here, and nowhere else — the engines' pools and their offloading wrappers
(:func:`call_services`), the audio pacer's sender thread and the process's switch interval
(:meth:`Node.start`), the servers and the scheduler; :meth:`Node.stop` ends them in reverse.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from functools import partial

from flask import Flask

from config import Settings
from esl_controller.offload import EngineWorkers, OffloadedLLM, OffloadedSTT, OffloadedTTS
from esl_controller.pacer import Pacer
from esl_controller.server import ControllerServer
from esl_controller.services import CallServices
from esl_controller.status import start_status_server
from esl_controller.unicast import PortAllocator
from media.engines import LanguageModel, SpeechToText, TextToSpeech
from models import create_db_app, upgrade_schema

from . import __version__

log = logging.getLogger(__name__)

# how long a stopping node waits for its calls to reach the fallback and store their chats
SHUTDOWN_GRACE_S = 10.0
# worker threads (or hub greenlets) per engine: a slow LLM never starves speech recognition
ENGINE_WORKERS = 4
# FreeSWITCH runs on this host: the unicast media fork stays on loopback (ESL.md §3)
UNICAST_HOST = "127.0.0.1"
# The pacer's sender thread must get the GIL within ~1 ms to send each 20 ms frame on time;
# Python's default switch interval (5 ms) lets the hub hold it for a quarter frame.
PACER_SWITCH_INTERVAL_S = 0.001


@dataclass
class Node:
    settings: Settings
    db_app: Flask
    services: CallServices
    controller: ControllerServer
    workers: EngineWorkers
    servers: list = field(default_factory=list)
    scheduler: object | None = None
    # the process's switch interval before start, restored by stop
    _switch_interval: float | None = field(default=None, init=False, repr=False)

    def start(self, *, admin: bool = True, status: bool = True, scheduler: bool = True) -> None:
        """Take calls (pacer, controller); ``admin``/``status``/``scheduler``: the rest of a
        production node (the in-process call tests leave them off)."""
        s = self.settings
        if self._switch_interval is None:
            self._switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(self._switch_interval, PACER_SWITCH_INTERVAL_S))
        self.services.pacer.start()
        self.controller.start()
        if status:
            self.servers.append(start_status_server(self.services, s.esl_host, s.status_port,
                                                    version=__version__))
        if admin:
            from admin import create_app
            from admin.serving import make_admin_server
            from node_sync.client import last_sync_status

            admin_app = create_app(s, sync_status=partial(last_sync_status, s.data_dir))
            server = make_admin_server(admin_app, s.admin_host, s.admin_port)
            server.start()
            self.servers.append(server)
            log.info("admin on http://%s:%s/", s.admin_host, server.server_port)
        if scheduler:
            self.scheduler = start_scheduler(self)

    def stop(self, grace_s: float = SHUTDOWN_GRACE_S) -> None:
        """Stop as ``systemctl stop`` expects: no new calls, the running ones handed to the
        fallback with their chats closed (not left "In Arbeit"), then everything else."""
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        self.controller.stop(timeout=grace_s)
        for server in self.servers:
            server.stop(timeout=2)
        self.servers.clear()
        self.services.pacer.stop()
        self.workers.close()
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None


def start_scheduler(node: Node):
    """Background jobs: master sync when enrolled (retention and other jobs join here)."""
    from apscheduler.schedulers.gevent import GeventScheduler

    scheduler = GeventScheduler()
    try:
        from node_sync.client import is_enrolled, schedule_sync

        if is_enrolled(node.settings.data_dir):
            schedule_sync(scheduler, node.settings.data_dir, node.db_app,
                          calls_in_progress=lambda: len(node.services.live),
                          engine_status=lambda: {"ready": node.services.engines_ready,
                                                 "problems": node.services.engine_problems})
    except ImportError:
        log.info("master sync not available")
    from .privacy_job import schedule_retention  # retention purge: at start, then hourly

    schedule_retention(scheduler, node.db_app, node.settings.recordings_dir)
    scheduler.start()
    return scheduler


def build_node(settings: Settings, *, stt: SpeechToText | None = None,
               llm: LanguageModel | None = None, tts: TextToSpeech | None = None,
               use_configured_engines: bool = True) -> Node:
    """Prepare the data folder and database and wire the controller to its engines; nothing
    runs until :meth:`Node.start`.

    Engines given as arguments (tests) replace the configured ones; what the master manages
    for this node (``managed.json``: engines, longest call) is laid over ``settings``."""
    from node_sync.apply import managed_settings

    settings = managed_settings(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.recordings_dir.mkdir(parents=True, exist_ok=True)
    db_app = create_db_app(settings.sqlalchemy_url)
    upgrade_schema(db_app)
    problems: list[str] = []
    if use_configured_engines:
        from .engines import build_engines

        engines = build_engines(settings)
        stt = stt or engines.stt
        llm = llm or engines.llm
        tts = tts or engines.tts
        problems = list(engines.problems)
        for problem in problems:
            log.warning("engine problem: %s", problem)
        if stt is None or tts is None:
            log.error("calls go to the fallback until STT and TTS are ready "
                      "(`voicegate models status`)")
    _sync_freeswitch_vars(settings, db_app)
    _close_interrupted_chats(settings, db_app)
    services, workers = call_services(settings, db_app, stt=stt, llm=llm, tts=tts,
                                      problems=problems)
    return Node(settings=settings, db_app=db_app, services=services,
                controller=ControllerServer(services), workers=workers)


def call_services(settings: Settings, db_app: Flask, *, stt: SpeechToText | None,
                  llm: LanguageModel | None, tts: TextToSpeech | None,
                  problems: list[str] | None = None) -> tuple[CallServices, EngineWorkers]:
    """The one way to a ready :class:`CallServices`: each engine offloaded into a pool of its
    own with the configured timeout, a pacer (not started) and the unicast port range.
    Whoever calls this starts ``services.pacer`` and ends it and ``workers`` (``Node``)."""
    e = settings.engines
    workers = EngineWorkers(ENGINE_WORKERS)
    services = CallServices(
        settings=settings, db_app=db_app,
        stt=workers.offload(stt, OffloadedSTT, e.stt_timeout_s),
        llm=workers.offload(llm, OffloadedLLM, e.llm_timeout_s),
        tts=workers.offload(tts, OffloadedTTS, e.tts_timeout_s),
        pacer=Pacer(), unicast_host=UNICAST_HOST,
        ports=PortAllocator(settings.rtp_port_min, settings.rtp_port_max, UNICAST_HOST),
        engine_problems=list(problems or []))
    return services, workers


def _sync_freeswitch_vars(settings: Settings, db_app: Flask) -> None:
    """FreeSWITCH's fallback number and voicemail box follow the customer's settings, so the
    dialplan's controller-down fallback reaches the right human."""
    if not settings.freeswitch_vars_path:
        return
    from admin.freeswitch_vars import update_vars_file
    from models import CustomerSettings, db

    with db_app.app_context():
        result = update_vars_file(settings, CustomerSettings.get())
        db.session.commit()
    if result is None or not result.changed:
        if result is not None and result.error:
            log.error("FreeSWITCH variables not updated: %s", result.error)
        return
    from esl_controller.inbound import InboundError, inbound_api

    esl = f"{settings.freeswitch_esl_host}:{settings.freeswitch_esl_port}"
    try:  # bounded: a FreeSWITCH that hangs or is down must not keep the node from starting
        reply = inbound_api("reloadxml", host=settings.freeswitch_esl_host,
                            port=settings.freeswitch_esl_port,
                            password=settings.freeswitch_esl_password, timeout=5.0).strip()
    except InboundError as exc:
        log.error("%s updated, but reloadxml over the event socket %s failed (%s); run "
                  "`fs_cli -x reloadxml` by hand", result.path, esl, exc)
        return
    if reply.startswith("+OK"):
        log.info("FreeSWITCH reloadxml over %s: %s", esl, reply)
    else:
        log.error("FreeSWITCH reloadxml over %s: %s", esl, reply)


def _close_interrupted_chats(settings: Settings, db_app: Flask) -> None:
    """Chats still "In Arbeit" from before this start were cut off by a crash or restart: mark
    them Neu so the receptionist sees them. With SQLite this node is the only controller; on a
    shared database only calls older than the longest possible call are closed."""
    import datetime as dt

    from models import Chat, ChatEvent, ChatStatus, db, utcnow

    now = utcnow()
    cutoff = now
    if not settings.sqlalchemy_url.startswith("sqlite"):
        cutoff = now - dt.timedelta(seconds=settings.max_call_seconds)
    with db_app.app_context():
        stale = db.session.scalars(db.select(Chat).where(
            Chat.status == ChatStatus.IN_ARBEIT, Chat.started_at < cutoff)).all()
        for chat in stale:
            chat.status, chat.ended_at = ChatStatus.NEU, chat.ended_at or now
            chat.end_reason = chat.end_reason or "error"
            last = max((e.seq for e in chat.events), default=0)
            db.session.add(ChatEvent(chat_id=chat.id, seq=last + 1, kind="error", data={
                "message": "Anruf durch einen Neustart des Knotens unterbrochen"}))
        db.session.commit()
    if stale:
        log.warning("%d chats were cut off by the last shutdown; marked Neu", len(stale))
