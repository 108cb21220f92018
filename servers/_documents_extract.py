"""Text from the files people actually have: PDF, Word (DOCX), Markdown and plain text.

pypdf (pure Python, maintained under the py-pdf organisation) and python-docx are the parsers: both are widely
used, need no system libraries, and are imported only when a file of their kind is added. A PDF without a
text layer (a scan) yields no text and is refused rather than stored empty.
"""

from __future__ import annotations

from pathlib import Path

from magistrate.servers._errors import ExtractionError, LimitExceededError

MAX_FILE_BYTES = 50 * 1024 * 1024
TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".text", ".rst"})
SUFFIXES = frozenset({".pdf", ".docx", *TEXT_SUFFIXES})


def extract_text(path: Path) -> str:
    """The text of a file, by its suffix; raises `ExtractionError` or `LimitExceededError`."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ExtractionError(f"{path}: unsupported file type {suffix or '(none)'}; use {', '.join(sorted(SUFFIXES))}")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ExtractionError(f"{path}: {exc.strerror or exc}") from exc
    if size > MAX_FILE_BYTES:
        raise LimitExceededError(str(path), MAX_FILE_BYTES, size)
    if suffix == ".pdf":
        text = _pdf(path)
    elif suffix == ".docx":
        text = _docx(path)
    else:
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ExtractionError(f"{path}: not readable as UTF-8 text: {exc}") from exc
    text = text.replace("\x00", "").replace("\r\n", "\n")
    if not text.strip():
        raise ExtractionError(f"{path}: no text found (a scanned PDF needs OCR first)")
    return text


def _pdf(path: Path) -> str:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ImportError as exc:
        raise ExtractionError("PDF needs pypdf: pip install 'magistrate[ingest]'") from exc
    try:
        reader = PdfReader(path)
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, OSError, ValueError) as exc:
        raise ExtractionError(f"{path}: not a readable PDF: {exc}") from exc
    return "\n\n".join(page.strip() for page in pages if page.strip())


def _docx(path: Path) -> str:
    try:
        import docx
    except ImportError as exc:
        raise ExtractionError("DOCX needs python-docx: pip install 'magistrate[ingest]'") from exc
    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises zipfile, lxml and its own errors for a bad file
        raise ExtractionError(f"{path}: not a readable DOCX: {exc}") from exc
    parts = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(parts)
