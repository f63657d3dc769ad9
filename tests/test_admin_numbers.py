"""Nummern & Zeitfenster: numbers, weekly and date windows, holidays, "Jetzt aktiv", preview."""

from __future__ import annotations

import datetime as dt

from flask import Flask

from models import Agent, PhoneNumber, TimeWindow, db
from tests.admin_support import (
    Browser,
    admin,
    app,
    browser,
    make_agent,
    make_chat,
    make_number,
    make_weekly_window,
    template_db,
)

__all__ = ["admin", "app", "browser", "template_db"]


def _setup(app: Flask) -> tuple[int, int, int]:
    with app.app_context():
        day = make_agent("Tagdienst")
        night = make_agent("Nachtdienst")
        number = make_number("4930123456", "Zentrale")
        db.session.commit()
        return number.id, day.id, night.id


def test_create_number_normalises_and_refuses_duplicates(admin: Browser) -> None:
    response = admin.post("/nummern/", {"number": "+49 (0)30 / 55 66 77", "label": "Praxis"})
    assert response.status_code == 302
    page = admin.text(response.location)
    assert "+493055667" in page and "Praxis" in page
    assert "Kein Zeitfenster aktiv" in page
    response = admin.post("/nummern/", {"number": "030 5566 77"})
    assert response.status_code == 400
    assert "ist schon angelegt" in response.get_data(as_text=True)
    response = admin.post("/nummern/", {"number": "Zentrale"})
    assert "Bitte eine gültige Telefonnummer eingeben" in response.get_data(as_text=True)


def test_weekly_window_with_two_periods_a_day(app: Flask, admin: Browser) -> None:
    number_id, day_id, _ = _setup(app)
    url = f"/nummern/{number_id}/fenster/neu/weekly"
    assert "Zeiten pro Wochentag" in admin.text(url)
    response = admin.post(url, {
        "name": "Bürozeiten", "agent_id": str(day_id), "category": "regulaer", "priority": "0",
        "start-0": ["08:00", "13:00"], "end-0": ["12:00", "17:00"], "copy_monday": "1",
        "start-4": ["08:00", ""], "end-4": ["14:00", ""]})
    assert response.status_code == 302
    with app.app_context():
        window = db.session.scalar(db.select(TimeWindow).filter_by(name="Bürozeiten"))
        periods = sorted((p.weekday, f"{p.start:%H:%M}", f"{p.end:%H:%M}")
                         for p in window.periods)
    # Monday copied to Tuesday–Friday (Friday's own times replaced)
    assert periods == [(d, s, e) for d in range(5) for s, e in (("08:00", "12:00"),
                                                                 ("13:00", "17:00"))]
    page = admin.text(f"/nummern/{number_id}")
    assert page.count("08:00–12:00 Bürozeiten") == 5 and page.count("13:00–17:00 Bürozeiten") == 5


def test_window_form_reports_problems_in_german(app: Flask, admin: Browser) -> None:
    number_id, _, _ = _setup(app)
    response = admin.post(f"/nummern/{number_id}/fenster/neu/weekly", {
        "name": "", "agent_id": "", "start-2": ["09:00"], "end-2": [""]})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Bitte geben Sie dem Zeitfenster einen Namen." in page
    assert "Bitte wählen Sie den Agenten" in page
    assert "Mittwoch, Zeitraum 1: Bitte Beginn und Ende" in page
    response = admin.post(f"/nummern/{number_id}/fenster/neu/date", {
        "name": "Urlaub", "agent_id": "1", "date_from": "2026-08-10", "date_to": "2026-08-01"})
    assert "liegt vor dem Startdatum" in response.get_data(as_text=True)


def test_edit_and_delete_a_window(app: Flask, admin: Browser) -> None:
    number_id, day_id, night_id = _setup(app)
    with app.app_context():
        window = make_weekly_window(db.session.get(PhoneNumber, number_id),
                                    db.session.get(Agent, day_id), "Bürozeiten",
                                    [(0, "08:00", "12:00")])
        db.session.commit()
        window_id = window.id
    url = f"/nummern/{number_id}/fenster/{window_id}"
    page = admin.text(url)
    assert 'value="08:00"' in page and 'value="12:00"' in page
    response = admin.post(url, {"name": "Frühdienst", "agent_id": str(night_id),
                                "category": "regulaer", "start-0": ["08:00", "10:00"],
                                "end-0": ["09:00", "11:00"]})
    assert response.status_code == 302
    with app.app_context():
        window = db.session.get(TimeWindow, window_id)
        assert window.name == "Frühdienst" and window.agent_id == night_id
        assert [(f"{p.start:%H:%M}") for p in window.periods] == ["08:00", "10:00"]
    admin.post(f"{url}/loeschen")
    with app.app_context():
        assert db.session.get(TimeWindow, window_id) is None


def test_date_window_and_precedence_in_preview(app: Flask, admin: Browser) -> None:
    number_id, day_id, night_id = _setup(app)
    admin.post(f"/nummern/{number_id}/fenster/neu/weekly", {
        "name": "Bürozeiten", "agent_id": str(day_id), "category": "regulaer",
        "start-0": ["08:00"], "end-0": ["17:00"], "copy_monday": "1"})
    admin.post(f"/nummern/{number_id}/fenster/neu/immer", {
        "name": "Immer", "agent_id": str(night_id), "category": "immer"})
    response = admin.post(f"/nummern/{number_id}/fenster/neu/date", {
        "name": "Betriebsurlaub", "agent_id": str(night_id), "category": "urlaub",
        "date_from": "2026-12-21", "date_to": "2026-12-31"})
    assert response.status_code == 302
    page = admin.text(f"/nummern/{number_id}")
    assert "21.12.2026 – 31.12.2026" in page and "Betriebsurlaub" in page and "ganztägig" in page
    preview = admin.text(f"/nummern/{number_id}?datum=2026-12-14&uhrzeit=10:00")
    assert "Am 14.12.2026 um 10:00 Uhr:</strong> Tagdienst nimmt an (Zeitfenster „Bürozeiten“)" \
        in preview
    assert "bis 17:00 Uhr" in preview
    assert "nachrangig: „Immer“" in preview
    preview = admin.text(f"/nummern/{number_id}?datum=2026-12-22&uhrzeit=10:00")
    assert "Nachtdienst nimmt an (Zeitfenster „Betriebsurlaub“) – bis 31.12.2026 24:00 Uhr." \
        in preview  # the last holiday, not "bis 01.01.2027 00:00"
    preview = admin.text(f"/nummern/{number_id}?datum=2026-12-31&uhrzeit=10:00")
    assert "(Zeitfenster „Betriebsurlaub“) – bis 24:00 Uhr." in preview
    preview = admin.text(f"/nummern/{number_id}?datum=2026-12-14&uhrzeit=20:00")
    assert "Nachtdienst nimmt an (Zeitfenster „Immer“)" in preview


def test_jetzt_aktiv_line_on_detail_and_list(app: Flask, admin: Browser) -> None:
    number_id, day_id, _ = _setup(app)
    admin.post(f"/nummern/{number_id}/fenster/neu/immer", {
        "name": "Rund um die Uhr", "agent_id": str(day_id), "category": "immer"})
    page = admin.text(f"/nummern/{number_id}")
    assert "<strong>Jetzt aktiv:</strong> Tagdienst nimmt an (Zeitfenster „Rund um die Uhr“)" \
        in page
    assert "Tagdienst nimmt an" in admin.text("/nummern/")


def test_public_holidays_of_a_bundesland_in_one_step(app: Flask, admin: Browser) -> None:
    number_id, _, night_id = _setup(app)
    data = {"bundesland": "BY", "jahr": "2026", "agent_id": str(night_id)}
    response = admin.post(f"/nummern/{number_id}/feiertage", data)
    page = admin.text(response.location)
    assert "12 Feiertage 2026 für Bayern angelegt." in page
    assert "06.01.2026" in page and "Heilige Drei Könige" in page and "Fronleichnam" in page
    # Berlin has neither; importing Bayern twice adds nothing
    admin.post(f"/nummern/{number_id}/feiertage", data)
    assert "0 Feiertage 2026 für Bayern angelegt (12 waren schon vorhanden)." in \
        admin.text(f"/nummern/{number_id}")
    preview = admin.text(f"/nummern/{number_id}?datum=2026-06-04&uhrzeit=09:00")
    assert "Nachtdienst nimmt an (Zeitfenster „Fronleichnam“)" in preview
    with app.app_context():
        dates = {w.date_from for w in db.session.scalars(db.select(TimeWindow))}
    assert dt.date(2026, 10, 3) in dates and dt.date(2026, 3, 8) not in dates  # no Frauentag


def test_delete_number_takes_its_windows(app: Flask, admin: Browser) -> None:
    number_id, day_id, _ = _setup(app)
    admin.post(f"/nummern/{number_id}/fenster/neu/immer", {
        "name": "Immer", "agent_id": str(day_id), "category": "immer"})
    admin.post(f"/nummern/{number_id}/loeschen")
    with app.app_context():
        assert db.session.get(PhoneNumber, number_id) is None
        assert db.session.scalar(db.select(db.func.count(TimeWindow.id))) == 0


def test_one_number_reads_the_same_on_every_page(app: Flask, admin: Browser) -> None:
    """Configured as +49 30 556677, called and calling back as FreeSWITCH delivers it
    (national 030…, 0049…): the receptionist sees +4930556677 everywhere."""
    admin.post("/nummern/", {"number": "+49 30 556677", "label": "Praxis"})
    with app.app_context():
        chat = make_chat(caller_name="", caller_number="030556677")
        chat.called_number = "0049 30 556677"
        db.session.commit()
        chat_id = chat.id
    shown = "+4930556677"
    assert f">{shown}</a>" in admin.text("/nummern/")
    assert f'<a href="tel:{shown}">{shown}</a>' in admin.text("/chats/?status=alle")
    assert f"<td>{shown}</td>" in admin.text("/chats/liste")
    detail = admin.text(f"/chats/{chat_id}")
    assert f"<dt>Angerufene Nummer</dt><dd>{shown}</dd>" in detail
    assert f'<a href="tel:{shown}">{shown}</a>' in detail
    assert f"Für {shown} gespeichert" in admin.text("/datenschutz/?nummer=0049+30+556677")
    assert "+030" not in admin.text("/nummern/")
