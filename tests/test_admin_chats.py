"""Chats: cards, quick actions, list with search and filters, detail timeline, recordings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import Flask

from models import Chat, CustomerSettings, Recording, Turn, db
from tests.admin_support import Browser, admin, app, browser, make_chat, template_db

__all__ = ["admin", "app", "browser", "template_db"]


def _chat(app: Flask, **kwargs) -> int:
    with app.app_context():
        chat = make_chat(**kwargs)
        db.session.commit()
        return chat.id


def test_cards_show_caller_agent_summary_tags_and_status(app: Flask, admin: Browser) -> None:
    _chat(app, caller_name="Erika Mustermann", caller_number="491701234567", agent="Buchhaltung",
          summary="Fragt nach der Rechnung vom Oktober.", tags=["Rechnung", "Rückruf"])
    _chat(app, caller_name="", caller_number="4940555666", status="in_arbeit", summary="")
    page = admin.text("/chats/")
    assert "Erika Mustermann" in page and "491701234567" in page
    assert "Letzter Agent: <span data-role=\"last-agent\">Buchhaltung</span>" in page
    assert "Fragt nach der Rechnung vom Oktober." in page
    assert "<li>Rechnung</li>" in page and "<li>Rückruf</li>" in page
    assert ">Neu</span>" in page and ">In Arbeit</span>" in page
    # no name: the number is the card's title; a running call says so
    assert '>+4940555666</a></h2>' in page and "Gespräch läuft" in page


def test_card_times_are_german_and_in_the_customers_zone(app: Flask, admin: Browser) -> None:
    _chat(app, started_at=dt.datetime(2026, 1, 5, 7, 30))  # 08:30 in Berlin (winter)
    assert "Mo, 05.01., 08:30" in admin.text("/chats/?status=alle") or \
        "05.01.2026, 08:30" in admin.text("/chats/?status=alle")
    with app.app_context():
        CustomerSettings.get().timezone = "Europe/London"
        db.session.commit()
    page = admin.text("/chats/?status=alle")
    assert "07:30" in page and "08:30" not in page


def test_working_a_chat_from_neu_to_erledigt(app: Flask, admin: Browser) -> None:
    chat_id = _chat(app, caller_name="Hans Huber")
    assert "Hans Huber" in admin.text("/chats/")  # default view: open chats
    response = admin.post(f"/chats/{chat_id}/erledigt", {"next": "/chats/"})
    assert response.status_code == 302 and response.location == "/chats/"
    page = admin.text("/chats/")
    assert "Chat mit Hans Huber ist erledigt." in page
    assert 'id="chat-' not in page  # gone from the open chats
    assert ">Erledigt</span>" in admin.text("/chats/?status=erledigt")
    admin.post(f"/chats/{chat_id}/wieder-oeffnen")
    with app.app_context():
        assert db.session.get(Chat, chat_id).status == "neu"


def test_callback_noted_records_who_and_when(app: Flask, admin: Browser) -> None:
    chat_id = _chat(app)
    admin.post(f"/chats/{chat_id}/rueckruf", {"notiz": "ruft morgen zurück"})
    with app.app_context():
        chat = db.session.get(Chat, chat_id)
        assert chat.status == "erledigt"
        assert chat.followup_note.startswith("Rückruf notiert von chef am ")
        assert chat.followup_note.endswith(": ruft morgen zurück")
    assert "Rückruf notiert von chef" in admin.text(f"/chats/{chat_id}")


def test_a_running_call_cannot_be_closed(app: Flask, admin: Browser) -> None:
    chat_id = _chat(app, status="in_arbeit")
    admin.post(f"/chats/{chat_id}/erledigt")
    assert "Der Anruf läuft noch" in admin.text("/chats/")
    with app.app_context():
        assert db.session.get(Chat, chat_id).status == "in_arbeit"


def test_status_json_reports_changes_for_polling(app: Flask, admin: Browser) -> None:
    chat_id = _chat(app, status="in_arbeit", summary="")
    data = admin.get(f"/chats/status.json?ids={chat_id},999").json
    assert data["chats"] == {str(chat_id): {"status": "in_arbeit", "label": "In Arbeit",
                                            "last_agent": "Empfang", "summary": "",
                                            "tags": []}}
    with app.app_context():
        chat = db.session.get(Chat, chat_id)
        chat.status, chat.summary, chat.last_agent_name = "neu", "Will einen Termin.", "Termine"
        db.session.commit()
    data = admin.get(f"/chats/status.json?ids={chat_id}").json
    assert data["chats"][str(chat_id)]["label"] == "Neu"
    assert data["chats"][str(chat_id)]["last_agent"] == "Termine"
    assert data["newest_id"] == chat_id


def test_detail_shows_full_timeline_with_handover_tools_and_timings(
        app: Flask, admin: Browser) -> None:
    chat_id = _chat(
        app, turns=[("agent", "Praxis Sommer, guten Tag!"), ("caller", "Ich brauche einen Termin."),
                    ("agent", "Ich verbinde Sie mit der Terminvergabe.")],
        events=[("window", {"window": "Bürozeiten", "agent": "Empfang"}),
                ("handover", {"from_agent": "Empfang", "to_agent": "Termine",
                              "reason": "Terminwunsch"}),
                ("tool_call", {"tool": "kalender", "arguments": {"tag": "Montag"},
                               "result": "frei um 9 Uhr", "ok": True})])
    page = admin.text(f"/chats/{chat_id}")
    assert "Ich brauche einen Termin." in page
    assert "Übergabe an anderen Agenten" in page and "Empfang → Termine (Terminwunsch)" in page
    assert "Werkzeug benutzt" in page and "kalender: frei um 9 Uhr" in page
    assert "tag = Montag" in page
    assert "Spracherkennung 120 ms" in page and "Antwortzeit 780 ms" in page
    assert "20.11.2026, 09:30:00 Uhr" in page  # 08:30 UTC, German format, Berlin time
    assert "2 Min. 05 Sek." in page
    assert "Keine Aufnahme vorhanden." in page


def test_fallback_and_error_events_read_as_german_sentences(app: Flask, admin: Browser) -> None:
    chat_id = _chat(app, events=[("fallback", {"reason": "Sprach-Engines nicht bereit"}),
                                 ("error", {"message": "ESL-Verbindung gestört: <weg>"})])
    page = admin.text(f"/chats/{chat_id}")
    assert ("Die KI hat den Anruf nicht angenommen, er ging an die Rückfallnummer bzw. das "
            "Sprachpostfach. Grund: Sprach-Engines nicht bereit") in page
    assert "ESL-Verbindung gestört: &lt;weg&gt;" in page
    assert "reason:" not in page and "message:" not in page


def test_caller_numbers_are_shown_and_linked_with_plus(app: Flask, admin: Browser) -> None:
    """A callback from the link must reach the caller, not dial 4917… as a local number."""
    _chat(app, caller_name="", caller_number="491701234567")
    _chat(app, caller_name="Hausmeister", caller_number="030123456")
    cards = admin.text("/chats/?status=alle")
    assert '<a href="tel:+491701234567">+491701234567</a>' in cards
    assert 'href="tel:491701234567"' not in cards
    # one form on every page: the national 030… reads as the +4930… the numbers page shows
    assert '<a href="tel:+4930123456">+4930123456</a>' in cards
    assert "<td>+491701234567</td>" in admin.text("/chats/liste")


def test_recording_is_served_from_the_recordings_folder_only(app: Flask, admin: Browser,
                                                              tmp_path: Path) -> None:
    recordings = Path(app.config["RECORDINGS_DIR"])
    (recordings / "2026").mkdir(parents=True)
    (recordings / "2026" / "call.wav").write_bytes(b"RIFF....WAVEfmt ")
    (tmp_path / "data" / "secret.txt").write_text("geheim")
    chat_id = _chat(app)
    with app.app_context():
        good = Recording(chat_id=chat_id, path="2026/call.wav", duration_s=125)
        bad = Recording(chat_id=chat_id, path="../secret.txt")
        absolute = Recording(chat_id=chat_id, path=str(tmp_path / "data" / "secret.txt"))
        db.session.add_all([good, bad, absolute])
        db.session.commit()
        ids = good.id, bad.id, absolute.id
    page = admin.text(f"/chats/{chat_id}")
    assert f'<audio controls preload="none" src="/chats/{chat_id}/aufnahme/{ids[0]}">' in page
    response = admin.get(f"/chats/{chat_id}/aufnahme/{ids[0]}")
    assert response.status_code == 200 and response.data == b"RIFF....WAVEfmt "
    assert response.mimetype.startswith("audio/")
    response.close()
    for rec_id in ids[1:]:
        response = admin.get(f"/chats/{chat_id}/aufnahme/{rec_id}")
        assert response.status_code == 404 and b"geheim" not in response.data
    assert admin.get(f"/chats/{chat_id + 1}/aufnahme/{ids[0]}").status_code == 404


def _list(admin: Browser, query: str) -> str:
    return admin.text(f"/chats/liste?{query}")


def test_search_by_name_number_and_transcript_text(app: Flask, admin: Browser) -> None:
    _chat(app, caller_name="Jürgen Müller", caller_number="4917611112222",
          turns=[("caller", "Meine Heizung ist ausgefallen.")], summary="Heizungsnotfall")
    _chat(app, caller_name="Anna Schmidt", caller_number="4930777888",
          turns=[("caller", "Ich möchte eine Rechnung bezahlen.")], summary="Zahlung")
    assert "Jürgen Müller" in _list(admin, "q=muller")  # umlaut-insensitive
    assert "Anna Schmidt" not in _list(admin, "q=muller")
    page = _list(admin, "q=heizung")  # found in the transcript
    assert "Jürgen Müller" in page and "Anna Schmidt" not in page
    page = _list(admin, "q=rechn")  # word prefix
    assert "Anna Schmidt" in page and "Jürgen Müller" not in page
    assert "Anna Schmidt" in _list(admin, "q=030+777888")  # national spelling of +49 30 …
    assert "Jürgen Müller" in _list(admin, "q=1111222")  # part of a number
    _chat(app, caller_name="Karl Kurz", caller_number="040555666")  # delivered national
    assert "Karl Kurz" in _list(admin, "q=%2B49+40+555666")  # found by its +49 spelling
    assert "Keine Chats gefunden." in _list(admin, "q=Kreuzfahrt")
    # FTS syntax in the query is taken literally, not as an operator
    assert "Keine Chats gefunden." in _list(admin, "q=%22heizung%22+OR+NOT+rechnung")


def test_search_finds_turns_added_and_changed_after_the_chat(app: Flask, admin: Browser) -> None:
    chat_id = _chat(app, caller_name="Live Anruf", status="in_arbeit")
    with app.app_context():
        db.session.add(Turn(chat_id=chat_id, seq=1, role="caller", text="Wasserschaden im Keller"))
        db.session.commit()
    assert "Live Anruf" in _list(admin, "q=wasserschaden")
    with app.app_context():
        turn = db.session.scalar(db.select(Turn).filter_by(chat_id=chat_id))
        turn.text = "Stromausfall im Keller"
        db.session.commit()
    assert "Live Anruf" not in _list(admin, "q=wasserschaden")
    assert "Live Anruf" in _list(admin, "q=stromausfall")
    with app.app_context():
        db.session.delete(db.session.get(Chat, chat_id))
        db.session.commit()
    assert "Keine Chats gefunden." in _list(admin, "q=stromausfall")


def test_filters_status_agent_tag_and_date(app: Flask, admin: Browser) -> None:
    _chat(app, caller_name="Alpha", agent="Empfang", tags=["Rückruf"], status="neu",
          started_at=dt.datetime(2026, 11, 2, 9, 0))
    _chat(app, caller_name="Beta", agent="Notdienst", tags=["Rückruf erbeten"],
          status="erledigt", started_at=dt.datetime(2026, 11, 10, 9, 0))
    _chat(app, caller_name="Gamma", agent="Empfang", tags=["Termin"], status="erledigt",
          started_at=dt.datetime(2026, 11, 10, 22, 30))  # 23:30 local on 10.11.
    def names(query: str) -> set[str]:
        page = _list(admin, query)
        return {n for n in ("Alpha", "Beta", "Gamma") if f"<td>{n}</td>" in page}

    assert names("status=erledigt") == {"Beta", "Gamma"}
    assert names("status=offen") == {"Alpha"}
    assert names("agent=Empfang") == {"Alpha", "Gamma"}
    assert names("tag=R%C3%BCckruf") == {"Alpha"}  # exact tag, not "Rückruf erbeten"
    assert names("von=2026-11-10&bis=2026-11-10") == {"Beta", "Gamma"}
    assert names("bis=2026-11-09") == {"Alpha"}
    assert names("agent=Empfang&von=2026-11-05") == {"Gamma"}
    assert "kein gültiges Datum" in _list(admin, "von=gestern")


def test_cards_page_by_page(app: Flask, admin: Browser) -> None:
    for i in range(30):
        _chat(app, caller_name=f"Anrufer {i:02d}",
              started_at=dt.datetime(2026, 11, 1) + dt.timedelta(hours=i))
    first = admin.text("/chats/")
    assert "Anrufer 29" in first and "Anrufer 05" not in first and "Ältere" in first
    second = admin.text("/chats/?status=offen&seite=2")
    assert "Anrufer 05" in second and "Anrufer 29" not in second and "Ältere" not in second
    assert ">30</span>" in first  # count on the "Offen" tab


def test_migration_indexes_chats_that_existed_before_it(tmp_path: Path) -> None:
    """Upgrading a node with old chats makes them searchable (0002 fills chat_fts)."""
    from flask_migrate import upgrade

    from admin.chat_search import ChatFilter, find_chats
    from models import create_db_app
    from models.db import MIGRATIONS_DIR

    db_app = create_db_app(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    with db_app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR), revision="0001")
        chat = make_chat(caller_name="Altkunde", tags=["Rückruf"],
                         turns=[("caller", "Die Dachrinne ist verstopft.")])
        db.session.commit()
        upgrade(directory=str(MIGRATIONS_DIR))
        found, _ = find_chats(ChatFilter(q="dachrinne"))
        assert [c.id for c in found] == [chat.id]
        found, _ = find_chats(ChatFilter(tag="Rückruf"))
        assert [c.id for c in found] == [chat.id]
