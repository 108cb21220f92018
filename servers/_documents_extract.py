"""Text from the files people actually have: PDF, Word (DOCX), Markdown and plain text.

pypdf (pure Python, maintained under the py-pdf organisation) and python-docx are the parsers: both are widely
used, need no system libraries, and are imported only when a file of their kind is added. A PDF without a
text layer (a scan) yields no text and is refused rather than stored empty. Every file is read within the
bounds of `_ingest_limits` (size, unpacked size, compression ratio, time and text), so a zip or PDF bomb is a
`LimitExceededError` within seconds, not minutes and gigabytes.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from magistrate.servers._errors import ExtractionError, LimitExceededError
from magistrate.servers._ingest_limits import MAX_FILE_BYTES, MAX_STREAM_BYTES, Budget, check_archive

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
    budget = Budget(path)
    if suffix == ".pdf":
        text = _pdf(path, budget)
    elif suffix == ".docx":
        text = _docx(path, budget)
    else:
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ExtractionError(f"{path}: not readable as UTF-8 text: {exc}") from exc
        budget.spend(text)
    text = text.replace("\x00", "").replace("\r\n", "\n")
    if not text.strip():
        raise ExtractionError(f"{path}: no text found (a scanned PDF needs OCR first)")
    return text


def _pdf(path: Path, budget: Budget) -> str:
    try:
        import pypdf
        from pypdf.errors import LimitReachedError, PyPdfError
    except ImportError as exc:
        raise ExtractionError("PDF needs pypdf: pip install 'magistrate[ingest]'") from exc
    # pypdf 6.6 and later take their decompression limits from a context-local configuration; older ones
    # keep their own defaults (75 MB a stream), and the deadline and text budget still apply.
    apply = getattr(pypdf, "apply_configuration", None)
    pages: list[str] = []
    try:
        with contextlib.nullcontext() if apply is None else apply(**_PDF_LIMITS):
            reader = pypdf.PdfReader(path)
            for page in reader.pages:
                text = (page.extract_text() or "").strip()
                budget.spend(text)
                if text:
                    pages.append(text)
    except LimitReachedError as exc:
        raise LimitExceededError(f"{path}: a compressed stream", MAX_STREAM_BYTES, None) from exc
    except (PyPdfError, OSError, ValueError, RecursionError) as exc:
        raise ExtractionError(f"{path}: not a readable PDF: {exc}") from exc
    return "\n\n".join(pages)


_PDF_LIMITS = {
    "maximum_declared_stream_length": MAX_STREAM_BYTES,
    "array_based_stream_maximum_output_length": MAX_STREAM_BYTES,
    "jbig2_maximum_output_length": MAX_STREAM_BYTES,
    "lzw_maximum_output_length": MAX_STREAM_BYTES,
    "run_length_maximum_output_length": MAX_STREAM_BYTES,
    "zlib_maximum_output_length": MAX_STREAM_BYTES,
    "brotli_maximum_output_length": MAX_STREAM_BYTES,
    "stream_decoding_work_maximum_length": 4 * MAX_STREAM_BYTES,
}


def _docx(path: Path, budget: Budget) -> str:
    try:
        import docx
    except ImportError as exc:
        raise ExtractionError("DOCX needs python-docx: pip install 'magistrate[ingest]'") from exc
    check_archive(path, budget)
    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises zipfile, lxml and its own errors for a bad file
        raise ExtractionError(f"{path}: not a readable DOCX: {exc}") from exc
    budget.check_time()
    parts: list[str] = []
    for paragraph in document.paragraphs:
        parts.append(paragraph.text)
        budget.spend(paragraph.text)
    for table in document.tables:
        for row in table.rows:
            line = " | ".join(cell.text for cell in row.cells)
            parts.append(line)
            budget.spend(line)
    return "\n".join(parts)
