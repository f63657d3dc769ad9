"""A demo customer: the dental practice "Zahnarztpraxis Dr. Sommer" (``voicegate demo``)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select

from agents.knowledge.store import add_document
from agents.manage import create_agent
from models import Agent, CustomerSettings, PhoneNumber, TimeWindow, WindowPeriod

log = logging.getLogger(__name__)

PRACTICE = "Zahnarztpraxis Dr. Sommer"
DEMO_NUMBER = "4930123456"
FALLBACK_NUMBER = "4930123450"
TAG_CHOICES = ["Termin", "Notfall", "Rechnung", "Rezept", "Rückruf", "Frage"]

PRACTICE_INFO = """# Zahnarztpraxis Dr. Sommer

## Öffnungszeiten
Die Praxis ist montags bis freitags von 8 bis 12 Uhr und von 14 bis 18 Uhr geöffnet.
Mittwochnachmittag ist die Praxis geschlossen. Samstags und sonntags ist geschlossen.

## Adresse und Anfahrt
Sie finden uns in der Lindenstraße 12, 10969 Berlin, im zweiten Stock mit Aufzug.
Die nächste U-Bahn-Station ist Kochstraße (U6). Parkplätze gibt es im Parkhaus am Markt.

## Leistungen
Wir bieten Kontrolluntersuchungen, professionelle Zahnreinigung, Füllungen, Wurzelbehandlungen,
Kronen und Brücken sowie Kinderzahnheilkunde an. Eine professionelle Zahnreinigung kostet
bei uns 95 Euro und dauert etwa eine Stunde.

## Versicherung
Wir behandeln gesetzlich und privat versicherte Patienten. Bitte bringen Sie Ihre
Versichertenkarte zu jedem ersten Termin im Quartal mit.

## Notfälle
Bei starken Schmerzen außerhalb der Sprechzeiten erreichen Sie den zahnärztlichen
Notdienst Berlin unter 030 89004333.
"""


def demo_agents() -> list[dict[str, Any]]:
    """The demo agents, in creation order; agent targets name their agent by ``agent``."""
    return [
        {"name": "Notdienst", "template": "operator", "params": {
            "greeting": "Zahnärztlicher Notdienst der Praxis Dr. Sommer. Bitte schildern Sie "
                        "kurz Ihren Notfall.",
            "targets": [{"key": "notdienst", "label": "dem diensthabenden Zahnarzt",
                         "kind": "number", "number": "4930987654",
                         "keywords": ["Schmerzen", "Zahnschmerzen", "Unfall", "Blutung",
                                      "geschwollen", "Notfall"]}],
            "default_target": "notdienst", "max_followups": 0}},
        {"name": "Anrufbeantworter", "template": "voicemail", "params": {
            "greeting": "Praxis Dr. Sommer, wir sind gerade nicht erreichbar. Ich nehme gern "
                        "Ihre Nachricht auf."}},
        {"name": "Praxis-Info", "template": "knowledge", "params": {
            "greeting": "Hier ist das Infotelefon der Praxis Dr. Sommer. Was möchten Sie "
                        "wissen?",
            "topic": "Öffnungszeiten, Anfahrt, Leistungen und Preise der Praxis",
            "targets": [{"key": "rezeption", "label": "der Rezeption", "kind": "number",
                         "number": "4930123458",
                         "keywords": ["Mitarbeiter", "Mensch", "Rezeption"]}]}},
        {"name": "Empfang", "template": "operator", "params": {
            "greeting": "Zahnarztpraxis Dr. Sommer, guten Tag! Worum geht es bei Ihnen?",
            "targets": [
                {"key": "termin", "label": "der Terminvergabe", "kind": "number",
                 "number": "4930123457",
                 "keywords": ["Termin", "Terminvereinbarung", "verschieben", "absagen",
                              "Kontrolle", "Zahnreinigung"]},
                {"key": "notfall", "label": "dem Notdienst", "kind": "agent",
                 "agent": "Notdienst",
                 "keywords": ["Notfall", "Schmerzen", "Zahnschmerzen", "Unfall"]},
                {"key": "info", "label": "unserem Infotelefon", "kind": "agent",
                 "agent": "Praxis-Info",
                 "keywords": ["Öffnungszeiten", "geöffnet", "offen", "Anfahrt", "Adresse",
                              "Parken", "Kosten", "kostet",
                              "Preis", "Versicherung"]},
                {"key": "nachricht", "label": "unserem Anrufbeantworter", "kind": "agent",
                 "agent": "Anrufbeantworter",
                 "keywords": ["Nachricht", "Rückruf", "zurückrufen"]},
                {"key": "rezeption", "label": "der Rezeption", "kind": "number",
                 "number": "4930123458", "keywords": ["Rezept", "Überweisung", "Rechnung"]},
            ],
            "default_target": "rezeption", "max_followups": 2}},
    ]


def _weekly(name: str, agent: Agent, category: str, days: range, spans: list[tuple[int, int]]
            ) -> TimeWindow:
    window = TimeWindow(name=name, kind="weekly", category=category, agent=agent)
    window.periods = [WindowPeriod(weekday=d, start=dt.time(a), end=dt.time(b))
                      for d in days for a, b in spans]
    return window


def seed_demo(session: Any, *, today: dt.date | None = None) -> dict[str, Any]:
    """Create the demo customer once; a second call changes nothing.

    Returns ``{"created": bool, "number": str, "agents": {name: id}}``.
    """
    existing = session.scalar(select(PhoneNumber).where(PhoneNumber.number == DEMO_NUMBER))
    if existing is not None:
        agents = {a.name: a.id for a in session.scalars(select(Agent))}
        return {"created": False, "number": DEMO_NUMBER, "agents": agents}
    today = today or dt.date.today()
    settings = _settings(session)
    settings.name = PRACTICE
    settings.fallback_number = FALLBACK_NUMBER
    settings.tag_choices = list(TAG_CHOICES)
    ids: dict[str, int] = {}
    for spec in demo_agents():
        params = dict(spec["params"])
        if "targets" in params:
            params["targets"] = [_resolve(t, ids) for t in params["targets"]]
        agent = create_agent(session, spec["template"], spec["name"], params)
        ids[spec["name"]] = agent.id
    info = session.get(Agent, ids["Praxis-Info"])
    add_document(session, info.id, "praxis-info.md", PRACTICE_INFO.encode())
    empfang, notdienst, ab = (session.get(Agent, ids[n])
                              for n in ("Empfang", "Notdienst", "Anrufbeantworter"))
    number = PhoneNumber(number=DEMO_NUMBER, label="Praxis Hauptnummer")
    number.windows = [
        _weekly("Sprechzeiten", empfang, "regulaer", range(0, 5), [(8, 12), (14, 18)]),
        _weekly("Notdienst am Wochenende", notdienst, "notdienst", range(5, 7), [(9, 13)]),
        TimeWindow(name="Außerhalb der Sprechzeiten", kind="immer", category="ausserhalb",
                   agent=ab),
        TimeWindow(name="Praxisurlaub zwischen den Jahren", kind="date", category="urlaub",
                   agent=ab, date_from=dt.date(today.year, 12, 24),
                   date_to=dt.date(today.year, 12, 31), priority=10),
    ]
    session.add(number)
    session.flush()
    log.info("demo customer %s seeded", PRACTICE)
    return {"created": True, "number": DEMO_NUMBER, "agents": ids}


def _resolve(target: dict[str, Any], ids: dict[str, int]) -> dict[str, Any]:
    target = dict(target)
    if "agent" in target:
        target["agent_id"] = ids[target.pop("agent")]
    return target


def _settings(session: Any) -> CustomerSettings:
    row = session.get(CustomerSettings, 1)
    if row is None:
        row = CustomerSettings(id=1, timezone="Europe/Berlin", tag_choices=[])
        session.add(row)
        session.flush()
    return row
