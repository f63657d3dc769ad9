"""Access per caller (DSGVO Art. 15): the ZIP holds every chat, turn, event and summary of the
number in any spelling, plus its recordings; a recording missing on disk is named and the
export still completes — from the CLI and from the admin's "Daten exportieren"."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import pytest

from models import AuditEntry, db
from tests.admin_support import Browser, make_app, template_db  # noqa: F401 (fixture)
from tests.privacy_support import add_chat
from voicegate.cli import main

STARTED = dt.datetime(2026, 11, 20, 9, 0)


@pytest.fixture
def web(template_db, tmp_path):  # noqa: F811
    web = make_app(template_db, tmp_path / "data")
    add_chat(web, caller_number="491709876543", started_at=STARTED, marker="Heizung")
    add_chat(web, caller_number="0170 9876543", started_at=STARTED + dt.timedelta(days=1),
             marker="Rechnung")
    add_chat(web, caller_number="4930111222", started_at=STARTED, marker="Fremd", name="Andere")
    return web


def _read(zip_bytes: bytes) -> tuple[dict, dict[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    return json.loads(files["daten.json"]), files


def test_the_export_holds_every_chat_turn_event_summary_and_recording_of_the_caller(web, tmp_path,
                                                                                   capsys):
    out = tmp_path / "auskunft.zip"
    rc = main(["privacy", "export", "--caller", "+49 (0)170 9876543", "--out", str(out),
               "--data", web.config["DATA_DIR"]])
    assert rc == 0
    assert "2 Chats und 2 Aufnahmen von +491709876543 exportiert" in capsys.readouterr().out
    data, files = _read(out.read_bytes())
    assert data["anrufernummer"] == "+491709876543"
    assert sorted(data["schreibweisen"]) == ["0170 9876543", "491709876543"]
    chats = data["chats"]
    assert [c["zusammenfassung"] for c in chats] == ["Ruft an wegen Heizung.",
                                                      "Ruft an wegen Rechnung."]
    first = chats[0]
    assert first["anrufername"] == "Erika Mustermann" and first["status"] == "Neu"
    assert [(t["von"], t["text"]) for t in first["gespraech"]] == [
        ("Agent", "Praxis Test, guten Tag!"),
        ("Anrufer", "Mein Kennwort ist Heizung, bitte zurückrufen.")]
    assert first["ereignisse"] == [{"nr": 1, "art": "tool_call", "zeit": first["ereignisse"][0]
                                    ["zeit"], "daten": {"tool": "notiz",
                                                        "result": "Notiz Heizung"}}]
    recording = first["aufnahmen"][0]["datei"]
    assert recording.startswith("aufnahmen/") and files[recording].startswith(b"RIFF")
    assert b"Heizung" in files[recording]
    assert "Fremd" not in files["daten.json"].decode() and data["fehlende_aufnahmen"] == []
    with web.app_context():
        entry = db.session.scalars(db.select(AuditEntry).filter_by(action="data.export")).one()
    assert entry.actor.startswith("Kommandozeile") and entry.details["chats"] == 2


def test_a_missing_recording_is_named_and_the_export_still_completes(web, tmp_path, capsys):
    folder = Path(web.config["RECORDINGS_DIR"])
    victim = sorted(folder.rglob("*.wav"))[0]
    victim.unlink()
    out = tmp_path / "auskunft.zip"
    assert main(["privacy", "export", "--caller", "01709876543", "--out", str(out),
                 "--data", web.config["DATA_DIR"]]) == 0
    captured = capsys.readouterr()
    assert "2 Chats und 1 Aufnahmen" in captured.out
    missing = str(victim.relative_to(folder))
    assert f"Aufnahme fehlt auf dem Datenträger: {missing}" in captured.err
    data, files = _read(out.read_bytes())
    assert data["fehlende_aufnahmen"] == [missing]
    assert missing in files["LIESMICH.txt"].decode()
    assert len(data["chats"]) == 2


def test_an_export_for_a_number_without_data_says_so(web, tmp_path, capsys):
    out = tmp_path / "leer.zip"
    assert main(["privacy", "export", "--caller", "+49 89 555555", "--out", str(out),
                 "--data", web.config["DATA_DIR"]]) == 0
    assert "Für +4989555555 sind keine Daten gespeichert" in capsys.readouterr().out
    data, _files = _read(out.read_bytes())
    assert data["chats"] == []


def test_the_admin_downloads_the_export_as_a_zip(web):
    admin = Browser(web.test_client())
    admin.login("chef")
    page = admin.text("/datenschutz/?nummer=0049 170 9876543")
    assert "2 Chats" in page and "Daten exportieren" in page and "Alle Daten löschen" in page
    response = admin.post("/datenschutz/export", {"nummer": "0049 170 9876543"})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert "auskunft-491709876543-" in response.headers["Content-Disposition"]
    data, _files = _read(response.get_data())
    response.close()  # the server closes the streamed temporary file
    assert len(data["chats"]) == 2
    receptionist = Browser(web.test_client())
    receptionist.login("empfang")
    assert receptionist.post("/datenschutz/export",
                             {"nummer": "0049 170 9876543"}).status_code == 403
