"""The bounds on reading a file someone hands us, so a small hostile file cannot take minutes or gigabytes.

A DOCX is a zip archive and a PDF holds compressed streams: a 60 KB file can unpack to gigabytes. So before
a parser sees a DOCX, its archive directory is checked (parts, unpacked size, and each part's compression
ratio), and then every part is inflated once in small chunks, which proves the directory true: zipfile stops
a part at its declared size and fails its checksum if there was more. Only then does the parser, which
inflates whole parts at once, get the file. PDF streams are bounded through pypdf's own limits. Every
extraction also runs against a deadline, checked between pages and paragraphs, and stops once its text
passes what the document store would take anyway.
"""

from __future__ import annotations

import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from magistrate.servers._documents_models import MAX_CONTENT_BYTES
from magistrate.servers._errors import ExtractionError, LimitExceededError

MAX_FILE_BYTES = 50 * 1024 * 1024
"""The largest file `extract_text` opens."""
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
"""The most a DOCX may unpack to, all its parts together."""
MAX_XML_PART_BYTES = 32 * 1024 * 1024
"""The most one XML part of a DOCX may unpack to: the parser holds its whole tree (pictures are not parsed)."""
MAX_STREAM_BYTES = 16 * 1024 * 1024
"""The most one PDF stream may decompress to."""
MAX_RATIO = 100
"""The highest compression ratio of one part larger than `RATIO_FLOOR_BYTES` (real XML is 5 to 20)."""
RATIO_FLOOR_BYTES = 1024 * 1024
"""Parts smaller than this unpacked are not judged by their ratio: they cannot blow up."""
MAX_PARTS = 10_000
"""The most parts a DOCX archive may hold."""
MAX_TEXT_CHARS = MAX_CONTENT_BYTES
"""Extraction stops past this much text: the document store would refuse it anyway."""
MAX_SECONDS = 30.0
"""The time one file may take to extract."""


@dataclass
class Budget:
    """The time and text one extraction may still use; `spend` raises once either runs out."""

    source: Path
    seconds: float = MAX_SECONDS
    chars: int = MAX_TEXT_CHARS
    _deadline: float = field(init=False)
    _used: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.seconds

    def check_time(self) -> None:
        if time.monotonic() > self._deadline:
            raise LimitExceededError(f"{self.source}: extraction time", int(self.seconds), None, "seconds")

    def spend(self, text: str) -> None:
        """Count `text` against the budget; called with each page or paragraph as it is read."""
        self._used += len(text)
        if self._used > self.chars:
            raise LimitExceededError(f"{self.source}: extracted text", self.chars, self._used, "characters")
        self.check_time()


def check_archive(path: Path, budget: Budget) -> None:
    """Refuse a zip archive that unpacks past the bounds, reading no more than one chunk of it at a time."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
            _check_directory(path, parts)
            for part in parts:
                with archive.open(part) as unpacked:
                    while unpacked.read(_CHUNK):
                        budget.check_time()
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        ValueError,
        EOFError,
        NotImplementedError,
        RuntimeError,
    ) as exc:
        raise ExtractionError(f"{path}: not a readable DOCX: {exc}") from exc


_CHUNK = 1024 * 1024


def _check_directory(path: Path, parts: list[zipfile.ZipInfo]) -> None:
    if len(parts) > MAX_PARTS:
        raise LimitExceededError(f"{path}: the archive", MAX_PARTS, len(parts), "parts")
    total = 0
    for part in parts:
        total += part.file_size
        if total > MAX_UNPACKED_BYTES:
            raise LimitExceededError(f"{path}: unpacked", MAX_UNPACKED_BYTES, total)
        if part.filename.endswith((".xml", ".rels")) and part.file_size > MAX_XML_PART_BYTES:
            raise LimitExceededError(f"{path}: part {part.filename}", MAX_XML_PART_BYTES, part.file_size)
        if part.file_size > RATIO_FLOOR_BYTES and part.file_size > MAX_RATIO * max(part.compress_size, 1):
            ratio = part.file_size // max(part.compress_size, 1)
            raise LimitExceededError(f"{path}: part {part.filename} compression ratio", MAX_RATIO, ratio, "to 1")
