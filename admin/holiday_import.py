"""German public holidays per Bundesland, from the ``holidays`` library."""

from __future__ import annotations

import datetime as dt

import holidays

BUNDESLAENDER = {
    "BW": "Baden-Württemberg", "BY": "Bayern", "BE": "Berlin", "BB": "Brandenburg",
    "HB": "Bremen", "HH": "Hamburg", "HE": "Hessen", "MV": "Mecklenburg-Vorpommern",
    "NI": "Niedersachsen", "NW": "Nordrhein-Westfalen", "RP": "Rheinland-Pfalz",
    "SL": "Saarland", "SN": "Sachsen", "ST": "Sachsen-Anhalt", "SH": "Schleswig-Holstein",
    "TH": "Thüringen",
}


def public_holidays(state: str, year: int) -> list[tuple[dt.date, str]]:
    """The state's public holidays in ``year`` with their German names, in date order."""
    if state not in BUNDESLAENDER:
        raise ValueError(f"Unbekanntes Bundesland: {state}")
    calendar = holidays.Germany(subdiv=state, years=year, language="de")
    return sorted((day, name) for day, name in calendar.items())
