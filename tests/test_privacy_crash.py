"""A purge killed with kill -9 halfway — after a batch's commit but before its files are
unlinked, or in the middle of a batch's transaction — is finished by the next run: no
orphaned files or rows, ``PRAGMA integrity_check`` ok. A purge while a call runs leaves the
call's chat and its recording file alone."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import gevent
import pytest

from esl_controller.testing import Say, WaitForAgentAudio, WaitForAgentSilence
from media.testing import ScriptedLLM, ScriptedSTT
from models import Chat, ChatStatus, CustomerSettings, PendingFileDeletion, Recording, db
from privacy.deletion import purge_expired
from tests.admin_support import make_app, template_db  # noqa: F401 (fixture)
from tests.privacy_support import add_chat, integrity

ROOT = Path(__file__).resolve().parent.parent
OLD = dt.datetime(2025, 1, 1, 9, 0)
CHATS = 30

# The purge in a child process, killed with SIGKILL at the chosen point.
CHILD = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import privacy.deletion as privacy
    from models import create_db_app
    from config import load_settings

    where, data = sys.argv[1], Path(sys.argv[2])
    calls = {"n": 0}
    if where == "after-commit":  # rows of the first batch committed, files still queued
        original = privacy._unlink_pending
        def unlink(folder, counts):
            calls["n"] += 1
            if calls["n"] == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            original(folder, counts)
        privacy._unlink_pending = unlink
    else:  # in the middle of the second batch's transaction
        original = privacy._delete_chats
        def delete(ids, counts):
            calls["n"] += 1
            original(ids, counts)
            if calls["n"] == 2:
                privacy.db.session.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        privacy._delete_chats = delete
    settings = load_settings(data)
    privacy.purge_expired(create_db_app(settings.sqlalchemy_url), settings.recordings_dir,
                          batch=10)
    print("not killed")
""")


@pytest.fixture
def web(template_db, tmp_path):  # noqa: F811
    web = make_app(template_db, tmp_path / "data")
    for index in range(CHATS):
        add_chat(web, caller_number=f"4917000{index:05d}", started_at=OLD + dt.timedelta(
            minutes=index), marker=f"Marke{index}", name=f"Anrufer {index}")
    add_chat(web, caller_number="491709999999", started_at=OLD, status=ChatStatus.IN_ARBEIT,
             name="Läuft noch")
    with web.app_context():
        CustomerSettings.get().chat_retention_days = 30
        db.session.commit()
    return web


def _run_child(where: str, data: Path) -> int:
    done = subprocess.run([sys.executable, "-c", CHILD, where, str(data)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert "not killed" not in done.stdout, done.stderr
    return done.returncode


def _rows(web) -> tuple[int, int, int]:
    with web.app_context():
        try:
            count = db.func.count
            return (db.session.scalar(db.select(count(Chat.id))),
                    db.session.scalar(db.select(count(Recording.id))),
                    db.session.scalar(db.select(count(PendingFileDeletion.id))))
        finally:
            db.session.remove()


def _no_orphans(web) -> None:
    folder = Path(web.config["RECORDINGS_DIR"])
    with web.app_context():
        known = set(db.session.scalars(db.select(Recording.path)))
        db.session.remove()
    on_disk = {str(p.relative_to(folder)) for p in folder.rglob("*.wav")}
    assert on_disk == known  # no file without a row, no row without its file


@pytest.mark.parametrize("where", ["after-commit", "mid-transaction"])
def test_a_purge_killed_halfway_is_finished_by_the_next_run(web, where):
    data = Path(web.config["DATA_DIR"])
    assert _run_child(where, data) == -signal.SIGKILL
    chats, _recordings, queued = _rows(web)
    if where == "after-commit":
        assert chats == CHATS + 1 - 10 and queued == 10  # one batch gone, its files queued
    else:
        assert chats == CHATS + 1 - 10 and queued == 0  # batch 1 done, batch 2 rolled back
    assert integrity(data)[0] == "ok"

    report = purge_expired(web, Path(web.config["RECORDINGS_DIR"]), batch=10)

    # the queued files of the killed run too; batch 1's were unlinked before the kill
    assert report.counts.files == (CHATS if where == "after-commit" else CHATS - 10)
    assert _rows(web) == (1, 1, 0)  # only the running call's chat and recording
    _no_orphans(web)
    assert integrity(data) == ("ok", "ok")


def test_a_purge_while_a_call_runs_leaves_that_call_alone(call_lab):
    call_lab.stt = ScriptedSTT(["Nein danke, tschüss."])
    call_lab.llm = ScriptedLLM([{"reply": "Auf Wiederhören!", "action": "end",
                                 "target": "none"}])
    call_lab.start().seed_practice()
    app = call_lab.node.db_app
    with app.app_context():
        CustomerSettings.get().chat_retention_days = 1
        CustomerSettings.get().recording_retention_days = 1
        db.session.commit()
    standin = call_lab.standin(caller_number="491701234567")
    call = gevent.spawn(standin.run, [WaitForAgentAudio(timeout_s=10),
                                      WaitForAgentSilence(silence_s=0.6, timeout_s=10),
                                      Say(text="Nein danke, tschüss."),
                                      WaitForAgentSilence(silence_s=1.5, timeout_s=10)],
                        timeout_s=40)
    with gevent.Timeout(20):
        while True:  # until the call is answered and its recording is being written
            view = call_lab.chat(standin.uuid, settled=False)
            files = list(call_lab.node.settings.recordings_dir.rglob(f"{standin.uuid}.wav"))
            if view is not None and view.answered and files:
                break
            gevent.sleep(0.05)
    far_future = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=3650)
    report = purge_expired(app, call_lab.node.settings.recordings_dir, now=far_future)
    assert report.counts.chats == 0 and report.counts.orphan_files == 0
    record = call.get()
    assert record.answered and record.hangup_by == "controller", record.errors
    chat = call_lab.chat(standin.uuid)
    assert chat.status == ChatStatus.NEU and len(chat.recordings) == 1
    assert (call_lab.node.settings.recordings_dir / chat.recordings[0]).stat().st_size > 44
    assert os.path.exists(call_lab.node.settings.recordings_dir / chat.recordings[0])
