"""Benchmark of the agents layer (no real LLM involved).

1. Runtime overhead per caller turn: prompt build, structured-output parsing, tool dispatch,
   keyword matching — everything the Conversation does except waiting for the LLM. The LLM is
   a scripted engine whose time is measured and subtracted.
2. Knowledge retrieval on a German corpus this script writes (60 documents, 30 questions with
   known answers, 10 questions the documents do not answer): latency, hit@1, hit@3, and how
   often "weiß ich nicht" is correctly said — at the lenient gate (an LLM reads the passages)
   and the strict one (keyword mode reads a passage out). BM25 alone, and BM25 + embeddings via the
   Ollama-protocol test server (`tests/ollama_server.py`, hashed bag-of-words vectors: this
   measures the embedding plumbing, not the quality of a real multilingual model).

Run: ``.venv/bin/python -m bench.bench_agents`` (add ``--json`` for machine-readable output).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agents.actions import AgentProfile  # noqa: E402
from agents.directory import AgentDirectory  # noqa: E402
from agents.knowledge import KnowledgeBase  # noqa: E402
from agents.runtime import Conversation  # noqa: E402
from media.engines import ChatMessage, LlmChunk, ToolCall, ToolSpec  # noqa: E402
from media.testing import ScriptedLLM  # noqa: E402


class TimedLLM:
    """Wraps a scripted LLM and adds up the time spent inside it."""

    name = "timed"

    def __init__(self, inner: ScriptedLLM):
        self.inner = inner
        self.spent = 0.0

    def chat(self, messages: Sequence[ChatMessage], *, tools: Sequence[ToolSpec] = (),
             response_format: dict[str, Any] | None = None) -> Iterator[LlmChunk]:
        start = time.perf_counter()
        stream = self.inner.chat(messages, tools=tools, response_format=response_format)
        self.spent += time.perf_counter() - start
        while True:
            start = time.perf_counter()
            try:
                chunk = next(stream)
            except StopIteration:
                self.spent += time.perf_counter() - start
                return
            self.spent += time.perf_counter() - start
            yield chunk


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary_ms(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {"mean_ms": round(statistics.fmean(ms), 3), "p50_ms": round(percentile(ms, 50), 3),
            "p95_ms": round(percentile(ms, 95), 3), "n": len(ms)}


# ------------------------------------------------------------------------ runtime overhead

TARGETS = [
    {"key": f"ziel{i}", "label": label, "kind": "number", "number": f"49301000{i:02d}",
     "keywords": words}
    for i, (label, words) in enumerate([
        ("Buchhaltung", ["Rechnung", "Zahlung", "Mahnung"]),
        ("Terminvergabe", ["Termin", "verschieben", "absagen"]),
        ("Labor", ["Befund", "Blutwerte"]),
        ("Rezeption", ["Rezept", "Überweisung"]),
        ("Verwaltung", ["Datenschutz", "Unterlagen"]),
        ("Zentrale", []),
    ])
]


def _turns(make: Callable[[], tuple[Conversation, TimedLLM | None]], texts: list[str],
           rounds: int) -> list[float]:
    overheads: list[float] = []
    for _ in range(rounds):
        conv, llm = make()
        for text in texts:
            before = llm.spent if llm else 0.0
            start = time.perf_counter()
            for _action in conv.on_caller(text):
                pass
            total = time.perf_counter() - start
            overheads.append(total - ((llm.spent - before) if llm else 0.0))
            if conv.ended:
                break
    return overheads


def bench_runtime(rounds: int, knowledge: KnowledgeBase) -> dict[str, Any]:
    history = ["Guten Tag, ich habe eine Frage.", "Es geht um meinen Besuch letzte Woche."]
    operator = AgentProfile(1, "Empfang", "operator", {
        "targets": TARGETS, "default_target": "ziel5", "max_followups": 3,
        "greeting": "Praxis Dr. Sommer, guten Tag!"})
    wissen = AgentProfile(9, "Info", "knowledge", {"targets": TARGETS[:2]})  # kb agent 9
    directory = AgentDirectory([operator, wissen])

    def operator_llm() -> tuple[Conversation, TimedLLM]:
        llm = TimedLLM(ScriptedLLM(
            [{"reply": "Worum geht es genau?", "action": "ask", "target": "none"}] * 2
            + [{"reply": "Ich verbinde Sie mit der Buchhaltung.", "action": "forward",
                "target": "ziel0"}]))
        return Conversation(operator, directory, llm), llm

    def operator_keywords() -> tuple[Conversation, None]:
        return Conversation(operator, directory, None), None

    def wissen_tools() -> tuple[Conversation, TimedLLM]:
        replies: list[Any] = []
        for _ in range(3):
            replies += [ToolCall("knowledge_lookup", {"query": "Zahnreinigung Preis"}),
                        "Die professionelle Zahnreinigung kostet 95 Euro."]
        llm = TimedLLM(ScriptedLLM(replies))
        return Conversation(wissen, directory, llm, knowledge=knowledge), llm

    voicemail = AgentProfile(3, "AB", "voicemail", {})

    def voicemail_keywords() -> tuple[Conversation, None]:
        conv = Conversation(voicemail, AgentDirectory([voicemail]), None)
        list(conv.greet())
        return conv, None

    return {
        "operator_llm_decision": summary_ms(_turns(
            operator_llm, [*history, "Es geht um eine Rechnung."], rounds)),
        "operator_keyword_mode": summary_ms(_turns(
            operator_keywords, [*history, "Es geht um eine Rechnung."], rounds)),
        "wissen_tool_call_with_lookup": summary_ms(_turns(
            wissen_tools, ["Was kostet eine Zahnreinigung?", "Und wie lange dauert sie?",
                           "Danke."], rounds)),
        "voicemail_keyword_mode": summary_ms(_turns(
            voicemail_keywords, ["Anna Berger", "null eins sieben eins zwei drei vier fünf",
                                 "ja", "Bitte rufen Sie mich wegen der Rechnung zurück."],
            rounds)),
    }


# ------------------------------------------------------------------------ the German corpus

SERVICES = [
    ("Professionelle Zahnreinigung", "Zahnbeläge und Verfärbungen werden gründlich entfernt",
     60, "95 Euro"),
    ("Bleaching", "die Zähne werden schonend aufgehellt", 90, "320 Euro"),
    ("Kontrolluntersuchung", "Zähne und Zahnfleisch werden halbjährlich geprüft", 20,
     "nichts, sie ist eine Kassenleistung"),
    ("Wurzelbehandlung", "entzündete Zahnnerven werden unter Betäubung behandelt", 75,
     "ab 250 Euro Eigenanteil"),
    ("Keramikfüllung", "Inlays aus Keramik ersetzen alte Amalgamfüllungen", 50,
     "ab 380 Euro"),
    ("Kinderprophylaxe", "Kinder lernen spielerisch das richtige Zähneputzen", 30,
     "nichts bis zum 18. Lebensjahr"),
    ("Fissurenversiegelung", "Rillen der Backenzähne werden gegen Karies versiegelt", 20,
     "25 Euro pro Zahn"),
    ("Implantatberatung", "wir besprechen Möglichkeiten für festen Zahnersatz", 45,
     "nichts, die Beratung ist kostenlos"),
    ("Knirscherschiene", "eine Aufbissschiene schützt nachts vor Zähneknirschen", 30,
     "etwa 280 Euro"),
    ("Sportmundschutz", "ein individuell angepasster Mundschutz für Kampfsport und Hockey", 25,
     "89 Euro"),
    ("Parodontitisbehandlung", "Zahnfleischtaschen werden tiefengereinigt", 90,
     "je nach Befund, meist übernimmt die Kasse"),
    ("Zahnsteinentfernung", "harter Zahnstein wird einmal jährlich entfernt", 15,
     "nichts für gesetzlich Versicherte"),
    ("Lachgassedierung", "Angstpatienten werden mit Lachgas entspannt behandelt", 30,
     "60 Euro je halbe Stunde"),
    ("Aligner-Therapie", "durchsichtige Schienen korrigieren Zahnfehlstellungen bei "
                         "Erwachsenen", 40, "ab 2500 Euro"),
    ("Veneers", "hauchdünne Keramikschalen verdecken Verfärbungen und Lücken", 120,
     "ab 800 Euro je Zahn"),
    ("Vollkeramikkrone", "eine Krone aus Vollkeramik ersetzt stark zerstörte Zähne", 90,
     "ab 650 Euro Eigenanteil"),
    ("Prothesenreparatur", "gebrochene Prothesen reparieren wir im eigenen Labor", 60,
     "ab 45 Euro"),
    ("Mundgeruchsprechstunde", "wir finden die Ursachen von Mundgeruch", 30, "70 Euro"),
    ("Zahnfleischkorrektur", "zurückgegangenes Zahnfleisch wird chirurgisch aufgebaut", 90,
     "ab 600 Euro"),
    ("Digitales Röntgen", "Röntgenbilder mit besonders wenig Strahlung", 10,
     "nichts bei medizinischer Notwendigkeit"),
]
BRANCHES = [
    ("Kreuzberg", "Lindenstraße 12", "10969", "montags bis freitags 8 bis 18 Uhr",
     "im Parkhaus am Markt", "U6 Kochstraße"),
    ("Mitte", "Friedrichstraße 101", "10117", "montags bis donnerstags 9 bis 19 Uhr",
     "nur in der Tiefgarage Dorotheenstraße", "S-Bahnhof Friedrichstraße"),
    ("Prenzlauer Berg", "Kastanienallee 44", "10435", "dienstags bis samstags 10 bis 16 Uhr",
     "kaum, wir empfehlen das Fahrrad", "Tram M1 Zionskirchplatz"),
    ("Charlottenburg", "Kantstraße 70", "10627", "montags bis freitags 7 bis 15 Uhr",
     "auf dem Hof, vier Stellplätze", "S-Bahnhof Savignyplatz"),
    ("Neukölln", "Karl-Marx-Straße 150", "12043", "montags bis freitags 12 bis 20 Uhr",
     "im Parkhaus der Neukölln Arcaden", "U7 Rathaus Neukölln"),
    ("Spandau", "Carl-Schurz-Straße 5", "13597", "montags, mittwochs und freitags 8 bis 14 Uhr",
     "direkt vor der Tür", "U7 Altstadt Spandau"),
    ("Pankow", "Breite Straße 30", "13187", "montags bis freitags 8 bis 12 Uhr",
     "im Hinterhof", "U2 Pankow"),
    ("Steglitz", "Schloßstraße 88", "12163", "montags bis samstags 9 bis 18 Uhr",
     "im Parkhaus Schloss-Straßen-Center", "U9 Schloßstraße"),
    ("Köpenick", "Bahnhofstraße 33", "12555", "dienstags und donnerstags 14 bis 20 Uhr",
     "auf dem Kundenparkplatz", "S-Bahnhof Köpenick"),
    ("Wedding", "Müllerstraße 140", "13353", "montags bis freitags 8 bis 16 Uhr",
     "am Straßenrand mit Parkschein", "U6 Leopoldplatz"),
]
POLICIES = [
    ("Terminabsage", "Termine bitte mindestens 24 Stunden vorher absagen. Bei kurzfristiger "
                     "Absage berechnen wir eine Ausfallgebühr von 40 Euro."),
    ("Zahlungsarten", "Wir akzeptieren EC-Karte, Kreditkarte und Überweisung. Ab 500 Euro ist "
                      "eine Ratenzahlung über unseren Partner möglich."),
    ("Versichertenkarte", "Bitte bringen Sie Ihre Versichertenkarte zum ersten Besuch im "
                          "Quartal mit. Privatversicherte erhalten eine Rechnung per Post."),
    ("Folgerezepte", "Folgerezepte können telefonisch bestellt werden und liegen nach zwei "
                     "Werktagen an der Rezeption bereit."),
    ("Barrierefreiheit", "Alle Standorte außer Prenzlauer Berg haben einen Aufzug und sind "
                         "rollstuhlgerecht."),
    ("Haustiere", "Hunde dürfen leider nicht mit in die Behandlungsräume, Assistenzhunde "
                  "ausgenommen."),
    ("WLAN", "Im Wartezimmer gibt es kostenloses WLAN, das Passwort steht an der Rezeption."),
    ("Begleitpersonen", "Kinder unter 14 Jahren kommen bitte mit einem Erwachsenen. "
                        "Begleitpersonen dürfen im Behandlungszimmer bleiben."),
    ("Datenschutz", "Ihre Gesundheitsdaten speichern wir verschlüsselt und geben sie nie ohne "
                    "Ihre Einwilligung weiter."),
    ("Zahnärztlicher Notdienst", "Nachts und am Wochenende erreichen Sie den zahnärztlichen "
                                 "Notdienst Berlin unter 030 89004333."),
]
STAFF = [
    ("Dr. Helena Sommer", "Praxisinhaberin", "Implantologie", "Kreuzberg"),
    ("Dr. Murat Yilmaz", "Oralchirurg", "Weisheitszähne", "Mitte"),
    ("Dr. Lena Vogt", "Kinderzahnärztin", "Kinderzahnheilkunde", "Prenzlauer Berg"),
    ("Dr. Piotr Nowak", "Kieferorthopäde", "Zahnspangen", "Charlottenburg"),
    ("Dr. Sarah Klein", "Zahnärztin", "Angstpatienten", "Neukölln"),
    ("Jana Roth", "Dentalhygienikerin", "Prophylaxe", "Spandau"),
    ("Dr. Felix Braun", "Zahnarzt", "Endodontie", "Pankow"),
    ("Dr. Aylin Demir", "Zahnärztin", "Ästhetische Zahnmedizin", "Steglitz"),
    ("Tom Schulze", "Zahntechnikermeister", "Prothetik", "Köpenick"),
    ("Dr. Greta Lang", "Parodontologin", "Zahnfleischerkrankungen", "Wedding"),
]


def corpus() -> list[tuple[str, str]]:
    docs: list[tuple[str, str]] = []
    for name, what, minutes, price in SERVICES:
        docs.append((f"leistung-{name}.md", f"# {name}\n\nBei der Leistung {name} gilt: {what}. "
                     f"Die Behandlung dauert etwa {minutes} Minuten. Sie kostet {price}."))
    for name, street, plz, hours, parking, transit in BRANCHES:
        docs.append((f"standort-{name}.txt", f"Standort {name}\n\nUnsere Praxis in {name} "
                     f"finden Sie in der {street}, {plz} Berlin. Geöffnet ist sie {hours}. "
                     f"Parken können Sie {parking}. Mit Bus und Bahn: {transit}."))
    for title, text in POLICIES:
        docs.append((f"regel-{title}.txt", f"{title}\n\n{text}"))
    for name, role, focus, branch in STAFF:
        docs.append((f"team-{name}.txt", f"{name}\n\n{name} arbeitet bei uns als {role} mit dem "
                     f"Schwerpunkt {focus}. Sie finden {name.split()[-1]} am Standort "
                     f"{branch}."))
    filler = ["Unsere Geschichte: Die Praxis wurde 1998 gegründet.",
              "Wir bilden jedes Jahr zwei Zahnmedizinische Fachangestellte aus.",
              "Unser Labor arbeitet mit Materialien aus Deutschland.",
              "Im Wartezimmer liegen aktuelle Zeitschriften aus.",
              "Wir nehmen an Qualitätszirkeln der Zahnärztekammer teil.",
              "Unsere Praxis ist nach DIN EN ISO 9001 zertifiziert.",
              "Wir spenden jährlich an die Aktion Zahnfreundlich.",
              "Die Behandlungsstühle werden nach jedem Patienten desinfiziert.",
              "Unsere Mitarbeitenden sprechen Deutsch, Englisch, Türkisch und Polnisch.",
              "Wir arbeiten papierlos mit digitaler Patientenakte."]
    docs += [(f"allgemein-{i}.txt", text) for i, text in enumerate(filler)]
    return docs


QUESTIONS: list[tuple[str, str]] = [
    ("Was kostet bei Ihnen eine professionelle Zahnreinigung?",
     "leistung-Professionelle Zahnreinigung.md"),
    ("Wie teuer ist Bleaching?", "leistung-Bleaching.md"),
    ("Muss ich die Kontrolluntersuchung selbst bezahlen?", "leistung-Kontrolluntersuchung.md"),
    ("Wie lange dauert eine Wurzelbehandlung?", "leistung-Wurzelbehandlung.md"),
    ("Machen Sie Füllungen aus Keramik?", "leistung-Keramikfüllung.md"),
    ("Was kostet die Versiegelung der Fissuren?", "leistung-Fissurenversiegelung.md"),
    ("Ich knirsche nachts mit den Zähnen, haben Sie Schienen?", "leistung-Knirscherschiene.md"),
    ("Bieten Sie einen Mundschutz fürs Hockey an?", "leistung-Sportmundschutz.md"),
    ("Ich habe Angst vorm Zahnarzt, gibt es Lachgas?", "leistung-Lachgassedierung.md"),
    ("Was kosten durchsichtige Aligner-Schienen?", "leistung-Aligner-Therapie.md"),
    ("Meine Prothese ist gebrochen, reparieren Sie das?", "leistung-Prothesenreparatur.md"),
    ("Was kann man gegen Mundgeruch tun?", "leistung-Mundgeruchsprechstunde.md"),
    ("Wo ist die Praxis in Kreuzberg?", "standort-Kreuzberg.txt"),
    ("Wann hat der Standort Mitte geöffnet?", "standort-Mitte.txt"),
    ("Kann man in Prenzlauer Berg parken?", "standort-Prenzlauer Berg.txt"),
    ("Welche U-Bahn fährt zur Praxis in Neukölln?", "standort-Neukölln.txt"),
    ("Wie sind die Öffnungszeiten in Spandau?", "standort-Spandau.txt"),
    ("Hat die Praxis in Steglitz samstags offen?", "standort-Steglitz.txt"),
    ("Adresse Köpenick", "standort-Köpenick.txt"),
    ("Was passiert, wenn ich meinen Termin kurzfristig absage?", "regel-Terminabsage.txt"),
    ("Kann ich mit Kreditkarte bezahlen?", "regel-Zahlungsarten.txt"),
    ("Gibt es Ratenzahlung?", "regel-Zahlungsarten.txt"),
    ("Muss ich meine Versichertenkarte mitbringen?", "regel-Versichertenkarte.txt"),
    ("Kann ich ein Folgerezept telefonisch bestellen?", "regel-Folgerezepte.txt"),
    ("Haben Sie einen Aufzug für Rollstuhlfahrer?", "regel-Barrierefreiheit.txt"),
    ("Darf mein Hund mitkommen?", "regel-Haustiere.txt"),
    ("Gibt es im Wartezimmer WLAN?", "regel-WLAN.txt"),
    ("Wer ist die Kinderzahnärztin?", "team-Dr. Lena Vogt.txt"),
    ("Wo arbeitet Dr. Yilmaz?", "team-Dr. Murat Yilmaz.txt"),
    ("Welche Nummer hat der zahnärztliche Notdienst am Wochenende?",
     "regel-Zahnärztlicher Notdienst.txt"),
]
UNANSWERABLE = [
    "Wie wird das Wetter morgen?",
    "Verkaufen Sie auch Brillen?",
    "Wann spielt Hertha BSC?",
    "Machen Sie Hausbesuche auf Mallorca?",
    "Was kostet ein Flug nach Rom?",
    "Haben Sie eine Kantine für Gäste?",
    "Kann ich bei Ihnen mein Auto waschen?",
    "Wie alt ist der Papst?",
    "Gibt es Gutscheine für Massagen?",
    "Reparieren Sie Fahrräder?",
]


def bench_retrieval(kb: KnowledgeBase, agent_id: int, repeat: int, *, strict: bool = False
                    ) -> dict[str, Any]:
    latencies: list[float] = []
    top1 = top3 = 0
    misses: list[str] = []
    for question, source in QUESTIONS:
        for _ in range(repeat):
            start = time.perf_counter()
            hits = kb.search(agent_id, question, k=3, strict=strict)
            latencies.append(time.perf_counter() - start)
        sources = [h.source for h in hits]
        top1 += bool(sources) and sources[0] == source
        top3 += source in sources
        if source not in sources:
            misses.append(question)
    dont_know = 0
    for question in UNANSWERABLE:
        start = time.perf_counter()
        dont_know += kb.search(agent_id, question, k=3, strict=strict) == []
        latencies.append(time.perf_counter() - start)
    return {"questions": len(QUESTIONS), "hit_at_1": round(top1 / len(QUESTIONS), 3),
            "hit_at_3": round(top3 / len(QUESTIONS), 3),
            "dont_know_correct": f"{dont_know}/{len(UNANSWERABLE)}",
            "latency": summary_ms(latencies), "missed": misses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="conversations per scenario")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    docs = corpus()
    start = time.perf_counter()
    kb = KnowledgeBase.from_texts(9, docs)
    kb.search(9, "Aufwärmen")  # builds the index
    build_bm25 = time.perf_counter() - start
    result: dict[str, Any] = {"corpus": {"documents": len(docs),
                                         "passages": len(kb._chunks[9]),
                                         "index_build_ms": round(build_bm25 * 1000, 1)}}
    result["retrieval_bm25"] = bench_retrieval(kb, 9, repeat=5)
    result["retrieval_bm25_strict"] = bench_retrieval(kb, 9, repeat=1, strict=True)

    from agents.knowledge.embed import OllamaEmbedder
    from tests.ollama_server import OllamaServer

    with OllamaServer() as server:
        embedder = OllamaEmbedder("bge-m3", host=server.url)
        start = time.perf_counter()
        hybrid = KnowledgeBase.from_texts(9, docs, embedder=embedder)
        result["corpus"]["embed_build_ms"] = round((time.perf_counter() - start) * 1000, 1)
        result["retrieval_bm25_plus_embeddings_test_server"] = bench_retrieval(hybrid, 9, 1)
        embedder.close()

    result["runtime_overhead_per_turn"] = bench_runtime(args.rounds, kb)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    print(f"Corpus: {result['corpus']}")
    for key in ("retrieval_bm25", "retrieval_bm25_strict",
                "retrieval_bm25_plus_embeddings_test_server"):
        r = result[key]
        print(f"{key}: hit@1 {r['hit_at_1']:.0%}, hit@3 {r['hit_at_3']:.0%}, "
              f"weiß-ich-nicht {r['dont_know_correct']}, latency {r['latency']}")
        for q in r["missed"]:
            print(f"   missed: {q}")
    print("Runtime overhead per turn (LLM time excluded):")
    for name, figures in result["runtime_overhead_per_turn"].items():
        print(f"  {name:32s} {figures}")


if __name__ == "__main__":
    main()
