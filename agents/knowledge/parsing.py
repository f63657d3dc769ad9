"""Uploaded files to plain text (PDF via pypdf, DOCX via python-docx, TXT/Markdown), and text
to passages small enough to read out and to rank."""

from __future__ import annotations

import io
import logging
import re
from pathlib import PurePath

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
CHUNK_CHARS = 700  # a passage: a few sentences, about 20 s read aloud
SHORT_PIECE = 80
KINDS = {".pdf": "pdf", ".docx": "docx", ".txt": "txt", ".md": "md", ".markdown": "md"}


class KnowledgeError(ValueError):
    """An upload that cannot become knowledge; the message is German, for the admin."""


def kind_of(filename: str) -> str:
    kind = KINDS.get(PurePath(filename).suffix.lower())
    if kind is None:
        raise KnowledgeError("Dateityp nicht unterstützt (erlaubt: PDF, DOCX, TXT, Markdown)")
    return kind


def extract_text(filename: str, data: bytes) -> str:
    """The document's text; KnowledgeError for unsupported, broken, empty or oversized files."""
    kind = kind_of(filename)
    if len(data) > MAX_UPLOAD_BYTES:
        raise KnowledgeError("Datei ist zu groß (höchstens 20 MB)")
    try:
        if kind == "pdf":
            text = _pdf(data)
        elif kind == "docx":
            text = _docx(data)
        else:
            text = _plain(data, markdown=kind == "md")
    except KnowledgeError:
        raise
    except Exception as exc:  # the parsers raise many kinds of errors for broken files
        log.info("cannot read %s: %r", filename, exc)
        raise KnowledgeError("Datei kann nicht gelesen werden (beschädigt oder "
                             "verschlüsselt?)") from exc
    text = _normalise(text)
    if not text:
        raise KnowledgeError("Die Datei enthält keinen lesbaren Text (gescanntes PDF?)")
    return text


def _pdf(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        raise KnowledgeError("Verschlüsselte PDF-Dateien werden nicht unterstützt")
    return "\n\n".join(page.extract_text() or "" for page in reader.pages)


def _docx(data: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text.strip() for cell in row.cells))
    return "\n\n".join(parts)


def _plain(data: bytes, *, markdown: bool) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if markdown:
        # a heading starts a new paragraph (and joins the text under it, see chunk_text)
        text = re.sub(r"^[ \t]{0,3}#{1,6}[ \t]*(.*)$", r"\n\1", text, flags=re.MULTILINE)
        text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links, images
        text = re.sub(r"(\*\*|__|`)", "", text)
        text = re.sub(r"^[ \t]*[-*+][ \t]+", "", text, flags=re.MULTILINE)
    return text


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\xa0", " ")
    text = re.sub(r"-\n(?=[a-zäöüß])", "", text)  # words hyphenated across lines (PDF)
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def chunk_text(text: str, max_chars: int = CHUNK_CHARS) -> list[str]:
    """Passages of whole paragraphs (or sentences of a long paragraph), each <= max_chars."""
    pieces: list[str] = []
    text = re.sub(r"^(#{1,6}\s.*)$", r"\n\1\n", text, flags=re.MULTILINE)  # own piece
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        if len(paragraph) <= max_chars:
            pieces.append(paragraph)
            continue
        sentences = re.split(r"(?<=[.!?])\s+", paragraph)
        for sentence in sentences:
            while len(sentence) > max_chars:  # a run-on "sentence" (tables, lists)
                cut = sentence.rfind(" ", 0, max_chars)
                cut = cut if cut > max_chars // 2 else max_chars
                pieces.append(sentence[:cut])
                sentence = sentence[cut:].strip()
            if sentence:
                pieces.append(sentence)
    chunks: list[str] = []
    for piece in pieces:  # a heading or one-liner joins the paragraph after it
        if chunks and len(chunks[-1]) < SHORT_PIECE and \
                len(chunks[-1]) + 1 + len(piece) <= max_chars:
            # a Markdown heading stays on its own line so it is not read out as the body's start
            sep = "\n" if chunks[-1].rsplit("\n", 1)[-1].startswith("#") else " "
            chunks[-1] = f"{chunks[-1]}{sep}{piece}"
        else:
            chunks.append(piece)
    return chunks
