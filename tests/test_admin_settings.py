"""Einstellungen: the customer's settings page (admins only), its checks, and FreeSWITCH's
vars.xml that follows the fallback number and voicemail box."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from markupsafe import escape

from admin.freeswitch_vars import esl_hosts, sync_freeswitch_vars
from config import Settings
from freeswitch_conf.dialplan import load_vars
from models import CustomerSettings, db
from tests.admin_support import Browser, admin, app, browser, make_app, template_db

__all__ = ["admin", "app", "browser", "template_db"]

URL = "/einstellungen/"
RELOAD_HINT = "reloadxml"
NOT_UPDATED = "Die Rückfallnummer für FreeSWITCH konnte nicht aktualisiert werden"


def _form(**changes: str) -> dict[str, str]:
    values = {"name": "Muster GmbH", "timezone": "Europe/Vienna",
              "fallback_number": "+49 (30) 123-4567", "voicemail_box": "200",
              "tag_choices": "Rechnung\nTermin\n", "language": "de"}
    values.update(changes)
    return values


def _stored(app: Flask) -> CustomerSettings | None:
    with app.app_context():
        row = db.session.get(CustomerSettings, 1)
        if row is not None:
            db.session.expunge(row)
        return row


def _vars_app(template_db: Path, tmp_path: Path, vars_path: Path, **changes: Any) -> Browser:
    vars_app = make_app(template_db, tmp_path / "data-fs",
                        settings_changes={"freeswitch_vars_path": str(vars_path), **changes})
    browser = Browser(vars_app.test_client())
    browser.login("chef")
    return browser


def _field_error(page: str, key: str) -> str:
    found = re.search(rf'id="error-{key}" role="alert">([^<]*)<', page)
    assert found, f"no error next to {key}"
    return html.unescape(found.group(1))


def test_admin_edits_the_settings_and_they_are_stored(app: Flask, admin: Browser) -> None:
    page = admin.text(URL)
    assert "<h1>Einstellungen</h1>" in page and 'aria-current="page">Einstellungen' in page
    assert '<option value="Europe/Berlin" selected>' in page  # the default before any save
    assert _stored(app) is None  # looking does not create the row
    response = admin.post(URL, _form(tag_choices="  Rechnung \nTermin\n\nrechnung\nTermin\n"))
    assert response.status_code == 302 and response.location == URL
    row = _stored(app)
    assert row is not None
    assert (row.name, row.timezone, row.fallback_number, row.voicemail_box, row.language) == \
        ("Muster GmbH", "Europe/Vienna", "+49301234567", "200", "de")
    assert row.tag_choices == ["Rechnung", "Termin"]  # trimmed, duplicates (any case) gone
    page = admin.text(URL)
    assert "Einstellungen gespeichert." in page
    assert RELOAD_HINT not in page.split('id="freeswitch"')[0]  # no vars file configured
    assert 'value="Muster GmbH"' in page and 'value="+49301234567"' in page
    assert '<option value="Europe/Vienna" selected>' in page
    assert ">Rechnung\nTermin</textarea>" in page
    assert "Kein Pfad für FreeSWITCHs Variablen eingestellt" in page


def test_german_speaking_zones_come_first_then_all_others(admin: Browser) -> None:
    page = admin.text(URL)
    zones = re.findall(r'<option value="([^"]+/[^"]+|UTC)"', page)
    assert zones[:3] == ["Europe/Berlin", "Europe/Vienna", "Europe/Zurich"]
    assert {"America/New_York", "Asia/Tokyo", "UTC"} <= set(zones[3:])
    assert zones[3:] == sorted(zones[3:])
    response = admin.post(URL, _form(timezone="Mars/Olympus_Mons"))
    assert response.status_code == 400
    assert _field_error(response.get_data(as_text=True), "timezone") == \
        "Bitte eine Zeitzone aus der Liste wählen."


def test_navigation_shows_the_page_to_admins_only(app: Flask, browser: Browser) -> None:
    browser.login("chef")
    assert f'href="{URL}"' in browser.text("/chats/")
    browser.post("/abmelden")
    browser.login("empfang")
    assert f'href="{URL}"' not in browser.text("/chats/")


def test_a_user_without_admin_role_gets_403(app: Flask, browser: Browser) -> None:
    browser.login("empfang")
    assert browser.get(URL).status_code == 403
    assert browser.post(URL, _form()).status_code == 403
    assert _stored(app) is None


def test_invalid_fallback_number_is_refused_next_to_the_field_and_typing_kept(
        app: Flask, admin: Browser) -> None:
    admin.post(URL, _form())
    response = admin.post(URL, _form(name="Neue Firma", fallback_number="030 12|34 abc",
                                     tag_choices="Reklamation\nRückruf", voicemail_box="300",
                                     timezone="Europe/Zurich"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Bitte prüfen Sie die markierten Felder." in page
    assert _field_error(page, "fallback_number").startswith("Keine gültige Telefonnummer")
    assert page.count('class="field-error"') == 1
    assert 'value="030 12|34 abc"' in page and 'value="Neue Firma"' in page
    assert 'value="300"' in page and '<option value="Europe/Zurich" selected>' in page
    assert ">Reklamation\nRückruf</textarea>" in page
    row = _stored(app)
    assert row is not None and row.name == "Muster GmbH" and row.fallback_number == "+49301234567"
    assert row.tag_choices == ["Rechnung", "Termin"]


@pytest.mark.parametrize("number", ["12", "+49 30 1234 5678 9012 34", "٠٣٠١٢٣٤٥٦"])
def test_fallback_numbers_freeswitch_cannot_dial_are_refused(admin: Browser, number: str) -> None:
    response = admin.post(URL, _form(fallback_number=number))
    assert response.status_code == 400
    assert _field_error(response.get_data(as_text=True), "fallback_number").startswith(
        "Keine gültige Telefonnummer")


def test_too_long_tag_is_refused_next_to_the_field_and_typing_kept(
        app: Flask, admin: Browser) -> None:
    long_tag = "Sehr langes Schlagwort, das niemand lesen mag"
    assert len(long_tag) > 40
    response = admin.post(URL, _form(tag_choices=f"Rechnung\n{long_tag}\n",
                                     fallback_number="+49 30 999"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert _field_error(page, "tag_choices") == \
        f"Schlagwort zu lang (höchstens 40 Zeichen): „{long_tag}“"
    assert f">Rechnung\n{long_tag}\n</textarea>" in page
    assert 'value="+49 30 999"' in page
    assert _stored(app) is None


def test_more_than_30_tags_are_refused_but_30_fit(app: Flask, admin: Browser) -> None:
    tags = [f"Thema {i}" for i in range(31)]
    response = admin.post(URL, _form(tag_choices="\n".join(tags)))
    assert response.status_code == 400
    assert _field_error(response.get_data(as_text=True), "tag_choices") == \
        "Höchstens 30 Schlagworte (eingegeben: 31)."
    assert admin.post(URL, _form(tag_choices="\n".join(tags[:30] + ["thema 0"]))) \
        .status_code == 302
    row = _stored(app)
    assert row is not None and row.tag_choices == tags[:30]


@pytest.mark.parametrize("box", ["2 00", "büro", "a" * 41, 'a"b'])
def test_voicemail_box_takes_letters_and_digits_only(admin: Browser, box: str) -> None:
    response = admin.post(URL, _form(voicemail_box=box))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert _field_error(page, "voicemail_box").startswith("Nur Buchstaben")
    assert f'value="{escape(box)}"' in page


def test_html_in_tag_names_is_escaped(app: Flask, admin: Browser) -> None:
    tags = "<script>alert(1)</script>\n<b>fett</b>\n\"Zitat\" & Co"
    assert admin.post(URL, _form(tag_choices=tags, name="<i>Firma</i>")).status_code == 302
    page = admin.text(URL)
    assert "<script>alert(1)" not in page and "<b>fett" not in page and "<i>Firma" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<li>&lt;b&gt;fett&lt;/b&gt;</li>" in page
    assert "<li>&#34;Zitat&#34; &amp; Co</li>" in page
    assert 'value="&lt;i&gt;Firma&lt;/i&gt;"' in page
    row = _stored(app)
    assert row is not None and row.tag_choices[:2] == ["<script>alert(1)</script>", "<b>fett</b>"]


def test_saving_writes_freeswitch_vars_with_the_new_fallback_number(
        template_db: Path, tmp_path: Path) -> None:
    vars_path = tmp_path / "freeswitch" / "voicegate" / "vars.xml"
    browser = _vars_app(template_db, tmp_path, vars_path, esl_host="0.0.0.0", esl_port=8085)
    assert "entspricht nicht diesen Einstellungen" in browser.text(URL)  # not written yet
    browser.post(URL, _form(fallback_number="+49 (30) 555-0101", voicemail_box="Zentrale1"))
    page = browser.text(URL)
    assert "Einstellungen gespeichert." in page
    assert f"FreeSWITCH-Variablen in {vars_path} aktualisiert" in page
    assert "„reloadxml“ (fs_cli -x reloadxml)" in page
    assert "ist auf dem Stand dieser Einstellungen" in page
    values = load_vars(vars_path, {"sounds_dir": "/snd"})
    assert values["voicegate_fallback_number"] == "+49305550101"
    assert values["voicegate_voicemail_box"] == "Zentrale1"
    assert values["voicegate_esl_hosts"] == "127.0.0.1:8085"
    # only the tags change: the file stays as it is, so FreeSWITCH needs no reload
    before = vars_path.stat().st_mtime_ns
    browser.post(URL, _form(fallback_number="+49 (30) 555-0101", voicemail_box="Zentrale1",
                            tag_choices="Neu"))
    page = browser.text(URL)
    assert "Einstellungen gespeichert." in page and "FreeSWITCH-Variablen in" not in page
    assert vars_path.stat().st_mtime_ns == before
    browser.post(URL, _form(fallback_number="", voicemail_box=""))
    values = load_vars(vars_path)
    assert values["voicegate_fallback_number"] == ""  # straight to the voicemail
    assert values["voicegate_voicemail_box"] == "voicegate"


def test_without_a_configured_path_no_vars_file_is_touched(
        app: Flask, admin: Browser, tmp_path: Path) -> None:
    installed = tmp_path / "vars.xml"
    installed.write_text("<include/>\n", encoding="utf-8")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")
                    if p.suffix != ".sqlite3" and "-wal" not in p.name and "-shm" not in p.name)
    assert admin.post(URL, _form()).status_code == 302
    page = admin.text(URL)
    assert "FreeSWITCH-Variablen in" not in page and NOT_UPDATED not in page
    assert installed.read_text(encoding="utf-8") == "<include/>\n"
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")
                   if p.suffix != ".sqlite3" and "-wal" not in p.name and "-shm" not in p.name)
    assert after == before


def test_unwritable_vars_path_warns_and_the_settings_still_save(
        template_db: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "kein-ordner"
    blocker.write_text("eine Datei, kein Verzeichnis", encoding="utf-8")
    vars_path = blocker / "vars.xml"
    browser = _vars_app(template_db, tmp_path, vars_path)
    response = browser.post(URL, _form(fallback_number="+49 30 777"))
    assert response.status_code == 302
    page = browser.text(URL)
    assert "Einstellungen gespeichert." in page
    assert f"{NOT_UPDATED}: Die Datei {vars_path} ist nicht beschreibbar" in page
    assert "FreeSWITCH verwendet aber weiter die bisherige Rückfallnummer" in page
    assert "entspricht nicht diesen Einstellungen" in page
    assert 'value="+4930777"' in page  # stored
    assert blocker.read_text(encoding="utf-8") == "eine Datei, kein Verzeichnis"


def test_sync_freeswitch_vars_for_the_node_start(tmp_path: Path) -> None:
    customer = CustomerSettings(fallback_number="+4930123", voicemail_box="200")
    vars_path = tmp_path / "fs" / "vars.xml"
    settings = Settings(data_dir=tmp_path, freeswitch_vars_path=str(vars_path),
                        esl_host="10.0.0.5", esl_port=9000)
    assert esl_hosts(settings) == ["10.0.0.5:9000"]
    assert sync_freeswitch_vars(settings, customer) is None
    values = load_vars(vars_path)
    assert values["voicegate_fallback_number"] == "+4930123"
    assert values["voicegate_esl_hosts"] == "10.0.0.5:9000"
    assert sync_freeswitch_vars(Settings(data_dir=tmp_path), customer) is None  # no path
    broken = CustomerSettings(fallback_number="030|evil", voicemail_box="200")
    error = sync_freeswitch_vars(settings, broken)
    assert error is not None and error.startswith(NOT_UPDATED) and "Rückfallnummer" in error
    assert load_vars(vars_path)["voicegate_fallback_number"] == "+4930123"  # left as it was
    (tmp_path / "datei").write_text("x", encoding="utf-8")
    unwritable = Settings(data_dir=tmp_path, freeswitch_vars_path=str(tmp_path / "datei" / "v"))
    error = sync_freeswitch_vars(unwritable, customer)
    assert error is not None and "ist nicht beschreibbar" in error
