"""Knowledge for Wissen agents: real PDF/DOCX/TXT/Markdown parsing, German retrieval, embeddings
through a real Ollama-protocol server, "weiß ich nicht" instead of guessing."""

from __future__ import annotations

import io

import pytest

from agents.actions import AgentProfile, Say, ToolUsed
from agents.directory import AgentDirectory
from agents.knowledge import KnowledgeBase, KnowledgeError, chunk_text, extract_text
from agents.knowledge.embed import OllamaEmbedder
from agents.knowledge.retrieval import MIN_COVERAGE
from agents.runtime import Conversation
from media.engines import EngineError, ToolCall
from media.testing import ScriptedLLM
from tests.ollama_server import OllamaServer, embed_vector


def make_pdf(lines: list[str]) -> bytes:
    """A real one-page PDF (Helvetica, WinAnsi) with one text line per entry."""
    def literal(text: str) -> bytes:
        raw = text.encode("cp1252")
        return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"

    content = b"BT /F1 12 Tf 72 720 Td 14 TL " + b" ".join(literal(x) + b" '" for x in lines) \
        + b" ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return out


def make_docx(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_pdf_text_with_umlauts_is_extracted():
    data = make_pdf(["Öffnungszeiten: Montag bis Freitag.", "Größe (groß) 5 €"])
    assert extract_text("praxis.PDF", data) == ("Öffnungszeiten: Montag bis Freitag.\n"
                                                "Größe (groß) 5 €")


def test_docx_paragraphs_and_tables_are_extracted():
    data = make_docx(["Leistungen der Praxis", "Zahnreinigung kostet 95 Euro."],
                     table=[["Leistung", "Preis"], ["Bleaching", "300 Euro"]])
    text = extract_text("preise.docx", data)
    assert "Zahnreinigung kostet 95 Euro." in text
    assert "Bleaching | 300 Euro" in text


def test_markdown_loses_its_markup_and_cp1252_text_is_read():
    md = "# Anfahrt\n\n**U-Bahn** Kochstraße, siehe [Karte](http://x.example/karte).\n- Parkhaus"
    assert extract_text("a.md", md.encode()) == \
        "Anfahrt\n\nU-Bahn Kochstraße, siehe Karte.\nParkhaus"
    assert extract_text("alt.txt", "Grüße aus Köln".encode("cp1252")) == "Grüße aus Köln"


@pytest.mark.parametrize(("name", "data", "message"), [
    ("bild.png", b"\x89PNG", "Dateityp nicht unterstützt (erlaubt: PDF, DOCX, TXT, Markdown)"),
    ("kaputt.pdf", b"%PDF-1.4 garbage", "Datei kann nicht gelesen werden (beschädigt oder "
                                        "verschlüsselt?)"),
    ("kaputt.docx", b"PK\x03\x04 nope", "Datei kann nicht gelesen werden (beschädigt oder "
                                        "verschlüsselt?)"),
    ("leer.txt", b"  \n\n ", "Die Datei enthält keinen lesbaren Text (gescanntes PDF?)"),
])
def test_unusable_uploads_get_a_german_reason(name, data, message):
    with pytest.raises(KnowledgeError) as caught:
        extract_text(name, data)
    assert str(caught.value) == message


def test_chunks_keep_paragraphs_and_respect_the_size_limit():
    long_paragraph = " ".join(f"Satz Nummer {i} über die Praxis." for i in range(80))
    chunks = chunk_text(f"Titel\nErster Absatz.\n\n{long_paragraph}", max_chars=300)
    assert chunks[0].startswith("Titel Erster Absatz. Satz Nummer 0")  # a one-liner joins
    assert all(len(c) <= 300 for c in chunks)
    assert "Satz Nummer 79 über die Praxis." in chunks[-1]


DOCS = [
    ("zeiten.txt", "Öffnungszeiten: Die Praxis ist montags bis freitags von 8 bis 18 Uhr "
                   "geöffnet. Am Mittwochnachmittag bleibt sie geschlossen."),
    ("preise.txt", "Eine professionelle Zahnreinigung kostet 95 Euro."),
    ("anfahrt.txt", "Parkplätze gibt es im Parkhaus am Markt, die U-Bahn hält an der "
                    "Kochstraße."),
    ("kinder.txt", "Für Kinder bieten wir eine spielerische Prophylaxe an."),
]


@pytest.mark.parametrize(("question", "source"), [
    ("Wann haben Sie geöffnet?", "zeiten.txt"),
    ("Ist am Mittwoch geöffnet?", "zeiten.txt"),  # compound: Mittwochnachmittag
    ("Was kosten Zahnreinigungen?", "preise.txt"),  # plural, stemmed
    ("Wo kann ich parken?", "anfahrt.txt"),  # Parkplätze / Parkhaus share the stem
    ("Was bieten Sie für Kinder an?", "kinder.txt"),
])
def test_bm25_with_german_stemming_finds_the_passage(question, source):
    kb = KnowledgeBase.from_texts(1, DOCS)
    assert kb.search(1, question)[0].source == source


@pytest.mark.parametrize("question", ["Bieten Sie Bleaching an?", "Wie wird das Wetter morgen?",
                                      "", "ähm"])
def test_questions_the_documents_do_not_answer_find_nothing_to_read_out(question):
    assert KnowledgeBase.from_texts(1, DOCS).search(1, question, strict=True) == []


@pytest.mark.parametrize("question", ["Wie wird das Wetter morgen?", "Verkaufen Sie Brillen?"])
def test_unrelated_questions_give_the_llm_no_passages_either(question):
    assert KnowledgeBase.from_texts(1, DOCS).search(1, question) == []


def test_embeddings_through_ollama_embed_rank_passages():
    with OllamaServer() as server:
        embedder = OllamaEmbedder("bge-m3", host=server.url)
        kb = KnowledgeBase.from_texts(1, DOCS, embedder=embedder)
        chunk = kb._chunks[1][1]
        assert chunk.embedding == pytest.approx(embed_vector(chunk.text))
        kb.min_coverage = 2.0  # lexical matches can no longer qualify: embeddings alone
        hits = kb.search(1, "Was kostet eine professionelle Zahnreinigung?")
        assert hits[0].source == "preise.txt"
        kb.min_coverage = MIN_COVERAGE
    # the server is gone now: questions are still answered, by BM25 alone
    assert kb.search(1, "Wo kann ich parken?")[0].source == "anfahrt.txt"
    embedder.close()


def test_embedding_server_down_raises_an_engine_error():
    embedder = OllamaEmbedder("bge-m3", host="http://127.0.0.1:9", timeout_s=1)
    with pytest.raises(EngineError):
        embedder.embed(["Hallo"])
    embedder.close()


def wissen(llm, *, kb: KnowledgeBase | None = None) -> Conversation:
    profile = AgentProfile(7, "Info", "knowledge", {"greeting": "Infotelefon, was möchten Sie "
                                                                "wissen?"})
    return Conversation(profile, AgentDirectory([profile]), llm,
                        knowledge=kb or KnowledgeBase.from_texts(7, DOCS))


def test_wissen_without_llm_reads_the_answer_or_says_it_does_not_know():
    conv = wissen(None)
    said = [a.text for a in conv.on_caller("Was kostet die Zahnreinigung?") if isinstance(a, Say)]
    assert said == ["Eine professionelle Zahnreinigung kostet 95 Euro.",
                    "Kann ich Ihnen sonst noch helfen?"]
    said = [a.text for a in conv.on_caller("Machen Sie auch Hausbesuche?") if isinstance(a, Say)]
    assert said[0] == "Das weiß ich leider nicht."


def test_wissen_with_llm_gets_the_passages_in_its_prompt():
    llm = ScriptedLLM(["Eine Zahnreinigung kostet 95 Euro."])
    said = [a.text for a in wissen(llm).on_caller("Was kostet eine Zahnreinigung?")]
    assert said == ["Eine Zahnreinigung kostet 95 Euro."]
    system = llm.requests[0][0][0].content
    assert "[preise.txt] Eine professionelle Zahnreinigung kostet 95 Euro." in system
    assert "nicht weißt" in system


def test_wissen_prompt_says_when_nothing_was_found():
    llm = ScriptedLLM(["Das weiß ich leider nicht."])
    list(wissen(llm).on_caller("Machen Sie Hausbesuche?"))
    assert "Zu dieser Frage wurde in den Dokumenten nichts gefunden." in \
        llm.requests[0][0][0].content


def test_knowledge_lookup_tool_result_goes_back_to_the_llm():
    llm = ScriptedLLM([ToolCall("knowledge_lookup", {"query": "Parkhaus"}),
                       "Sie können im Parkhaus am Markt parken."])
    actions = list(wissen(llm).on_caller("Und wie ist das mit dem Auto?"))
    assert ToolUsed("knowledge_lookup", {"query": "Parkhaus"}, "1 Treffer") in actions
    second_request = llm.requests[1][0]
    assert second_request[-1].role == "tool"
    assert "Parkhaus am Markt" in second_request[-1].content
    assert actions[-1] == Say("Sie können im Parkhaus am Markt parken.")


def test_knowledge_lookup_without_query_argument_is_refused_and_reported():
    llm = ScriptedLLM([ToolCall("knowledge_lookup", {}), "Wonach soll ich suchen?"])
    actions = list(wissen(llm).on_caller("Suchen Sie mal"))
    assert ToolUsed("knowledge_lookup", {"query": "None"}, "Argument 'query' fehlt.",
                    ok=False) in actions
    assert actions[-1] == Say("Wonach soll ich suchen?")


def test_keyword_mode_does_not_read_markdown_headings_aloud():
    from agents.demo import PRACTICE_INFO

    profile = AgentProfile(5, "Praxis-Info", "knowledge", {"greeting": "Infotelefon."})
    kb = KnowledgeBase.from_texts(5, [("praxis-info.md", PRACTICE_INFO)])
    conv = Conversation(profile, AgentDirectory([profile]), None, knowledge=kb)
    spoken = [a.text for a in conv.on_caller("Wann haben Sie geöffnet?") if isinstance(a, Say)]
    assert spoken[0] == ("Die Praxis ist montags bis freitags von 8 bis 12 Uhr und von 14 bis "
                         "18 Uhr geöffnet.")
    assert not any("#" in s or "Öffnungszeiten" in s for s in spoken)
