"""The master stays blind with the privacy features in place: the audit log's targets, a
number's announcement text and an export's content never reach the master, through sync
rounds before and after an export, an erase and a purge on the node."""

from __future__ import annotations

import io
import random
from pathlib import Path

from master.testing import RunningMaster
from models import CustomerSettings, PhoneNumber, add_audit, db
from node_sync.client import NodeSync, enroll
from privacy.deletion import erase_caller, purge_expired
from privacy.export import export_caller
from tests.master_support import make_node_db
from tests.test_master_privacy import conversation_markers, master, write_conversations

__all__ = ["master"]


def test_privacy_features_send_nothing_of_a_conversation_to_the_master(
        master: RunningMaster, tmp_path: Path) -> None:  # noqa: F811
    markers = conversation_markers()
    markers["announcement"] = f"Ansage-{markers['prompt'][-12:]}"
    markers["audit_target"] = f"Ziel-{markers['prompt'][-12:]}"
    node_dir = tmp_path / "node"
    node_db = make_node_db(node_dir)
    write_conversations(node_db, markers)
    with node_db.app_context():
        number = db.session.scalar(db.select(PhoneNumber))
        number.announcement_enabled, number.announcement_text = True, markers["announcement"]
        row = CustomerSettings.get()
        row.chat_retention_days, row.recording_retention_days = 180, 30
        add_audit(db.session, "chat.open", actor="chef", target=markers["audit_target"])
        db.session.commit()
    enroll(master.url, master.add_node("kunde-privat"), master.ca_file, node_dir)
    sync = NodeSync(node_dir, node_db, calls_in_progress=lambda: 0,
                    engine_status=lambda: {"stt": "ok", "llm": "ok", "tts": "ok"},
                    rng=random.Random(1))
    assert sync.sync_once().ok
    recordings = node_dir / "recordings"
    export_caller(node_db, recordings, markers["caller_number"], io.BytesIO(), actor="chef",
                  secret="s")
    assert sync.sync_once().ok
    erase_caller(node_db, recordings, markers["caller_number"], actor="chef", secret="s")
    purge_expired(node_db, recordings)
    assert sync.sync_once().ok

    assert master.scan_for(list(markers.values())) == []
    assert master.scan_for(["kunde-privat"]), "the master's files were scanned"
