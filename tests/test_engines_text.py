"""What the voice says (text normalisation) and when it may start saying it (sentence splitting
of the streamed LLM answer)."""

from __future__ import annotations

import pytest

from media.sentences import SentenceSplitter
from media.textnorm import german_cardinal, normalize

# -------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(("text", "spoken"), [
    ("Wir treffen uns um 14:30 Uhr.", "Wir treffen uns um vierzehn Uhr dreißig."),
    ("Ab 8:05 Uhr ist offen.", "Ab acht Uhr fünf ist offen."),
    ("Um 13:00 Uhr", "Um dreizehn Uhr"),
    ("bis 1 Uhr", "bis ein Uhr"),
    ("Das kostet 12,50 €.", "Das kostet zwölf Euro fünfzig."),
    ("Nur 0,99 €", "Nur neunundneunzig Cent"),
    ("1 € pro Minute", "ein Euro pro Minute"),
    ("EUR 1.200", "eintausendzweihundert Euro"),
    ("Rufen Sie 030 / 123 45-67 an.",
     "Rufen Sie null drei null, eins zwo drei, vier fünf, sechs sieben an."),
    ("Tel. +49 171 2345678", "Telefon plus vier neun, eins sieben eins, "
                             "zwo drei vier fünf sechs sieben acht"),
    ("Am 1. Mai haben wir zu.", "Am ersten Mai haben wir zu."),
    ("Der 3. Oktober ist frei.", "Der dritte Oktober ist frei."),
    ("Termin 01.05.2025", "Termin erster Mai zweitausendfünfundzwanzig"),
    ("seit 1999", "seit neunzehnhundertneunundneunzig"),
    ("z. B. Nr. 5 bei Dr. Müller", "zum Beispiel Nummer fünf bei Doktor Müller"),
    ("3,5 % mehr", "drei Komma fünf Prozent mehr"),
    ("21 Tage und 101 Nächte", "einundzwanzig Tage und einhunderteins Nächte"),
    ("Kundennummer 12345678", "Kundennummer eins zwei drei vier fünf sechs sieben acht"),
    ("Mo.–Fr. 8–18 Uhr, Sa. 9:00-12:30 Uhr", "Montag bis Freitag acht Uhr bis achtzehn Uhr, "
                                             "Samstag neun Uhr bis zwölf Uhr dreißig"),
    ("Fr. Müller ruft zurück.", "Frau Müller ruft zurück."),
    ("Am Fr. geschlossen.", "Am Freitag geschlossen."),
    ("Lieferung in 3-5 Tagen", "Lieferung in drei bis fünf Tagen"),
    ("Guten Tag!", "Guten Tag!"),
])
def test_german_text_is_spoken_out(text, spoken):
    assert normalize(text, "de") == spoken


@pytest.mark.parametrize(("n", "words"), [
    (0, "null"), (1, "eins"), (17, "siebzehn"), (30, "dreißig"), (99, "neunundneunzig"),
    (100, "einhundert"), (1001, "eintausendeins"), (21_000, "einundzwanzigtausend"),
    (2_500_000, "zwei Millionen fünfhunderttausend"), (1_000_000, "eine Million"),
    (-4, "minus vier"),
])
def test_german_cardinals(n, words):
    assert german_cardinal(n) == words


def test_english_light_normalisation():
    assert normalize("Call 555-123-4567 at 2:30, 50% & 1,200 items", "en") == (
        "Call five five five, one two three, four five six seven at two thirty, "
        "fifty percent and one thousand two hundred items")


def test_other_languages_pass_through():
    assert normalize("Il est 14:30.", "fr") == "Il est 14:30."


# ------------------------------------------------------------------------ sentence splitting

def stream(text: str, step: int = 3) -> list[tuple[int, str]]:
    """Feed ``text`` in ``step``-character deltas; (chars fed when emitted, sentence)."""
    splitter = SentenceSplitter()
    out = []
    for i in range(0, len(text), step):
        out += [(i + step, s) for s in splitter.feed(text[i:i + step])]
    return out + [(len(text), s) for s in splitter.flush()]


def test_first_sentence_is_ready_long_before_the_answer_ends():
    text = "Guten Tag! Wie kann ich Ihnen helfen? Wir haben heute bis achtzehn Uhr geöffnet."
    emitted = stream(text)
    assert [s for _, s in emitted] == [
        "Guten Tag!", "Wie kann ich Ihnen helfen?", "Wir haben heute bis achtzehn Uhr geöffnet."]
    assert emitted[0][0] <= len("Guten Tag! W") + 2, "emitted as soon as the next word starts"


@pytest.mark.parametrize("text", [
    "Wir haben z. B. am Samstag geöffnet.",
    "Wir haben am 1. Mai geschlossen.",
    "Bitte wenden Sie sich an Dr. Weber.",
    "Das ist Zimmer Nr. 12 im Haus.",
    "Das kostet 3.5 Euro, d. h. sehr wenig.",
    "Das geht ... vielleicht morgen.",
    "Besuchen Sie www.praxis-weber.de noch heute.",
    "Die Str. ist gesperrt, bzw. nur einseitig befahrbar.",
])
def test_abbreviations_dates_and_decimals_do_not_split(text):
    assert [s for _, s in stream(text)] == [text]


def test_ordinal_number_before_a_normal_word_ends_the_sentence():
    assert [s for _, s in stream("Es waren genau 3. Dann kam er.")] == [
        "Es waren genau 3.", "Dann kam er."]


def test_markdown_lists_become_plain_sentences():
    text = "**Öffnungszeiten:**\n- Montag bis Freitag 8 bis 18 Uhr\n- Samstag 9 bis 12 Uhr\n"
    assert [s for _, s in stream(text)] == [
        "Öffnungszeiten:", "Montag bis Freitag 8 bis 18 Uhr", "Samstag 9 bis 12 Uhr"]


def test_very_long_sentence_is_cut_at_a_comma():
    text = ("Wenn Sie einen Termin möchten, " * 12).strip() + " dann rufen Sie an."
    parts = [s for _, s in stream(text, step=7)]
    assert len(parts) > 1 and all(len(p) <= 220 for p in parts)
    assert " ".join(parts) == text


def test_flush_returns_the_unterminated_rest_once():
    splitter = SentenceSplitter()
    assert splitter.feed("Einen Moment") == []
    assert splitter.flush() == ["Einen Moment"]
    assert splitter.flush() == []
