"""Hostile files are refused quickly and within bounded memory: zip bombs, PDF bombs, giant CSV fields, YAML aliases.

The bombs are built here, small on disk and huge once unpacked, so no test data is checked in.
"""

from __future__ import annotations

import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docx
import pytest

from magistrate.servers import ExtractionError, ImportRowsError, LimitExceededError, extract_text, load_framework_file
from magistrate.servers._ingest_limits import MAX_RATIO, MAX_STREAM_BYTES, MAX_UNPACKED_BYTES

# Generous for a loaded two-core machine: a bomb that is actually inflated takes far more memory, and longer.
FAST_SECONDS = 30.0
SMALL_MEMORY = 64 * 1024 * 1024


@contextmanager
def bounded(seconds: float = FAST_SECONDS, memory: int = SMALL_MEMORY) -> Iterator[None]:
    """The block finishes within `seconds` and its Python allocations peak under `memory`."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        yield
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.monotonic() - started < seconds
    assert peak < memory, f"peak {peak} bytes"


def _docx_with_document(path: Path, write_body: object) -> None:
    """A real DOCX (from python-docx) whose word/document.xml is replaced by what `write_body` streams."""
    template = path.with_suffix(".template.docx")
    docx.Document().save(str(template))
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            if item.filename == "word/document.xml":
                part = zipfile.ZipInfo("word/document.xml")
                part.compress_type = zipfile.ZIP_DEFLATED
                with target.open(part, "w") as out:
                    assert callable(write_body)
                    write_body(out)
            else:
                target.writestr(item, source.read(item))


def _paragraphs(count: int, chunk: int = 10_000) -> object:
    head = b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'

    def write(out: zipfile.ZipExtFile) -> None:
        out.write(head + b"<w:body>")
        paragraph = b"<w:p><w:r><w:t>a</w:t></w:r></w:p>"
        for _ in range(count // chunk):
            out.write(paragraph * chunk)
        out.write(b"</w:body></w:document>")

    return write


def test_a_docx_zip_bomb_is_refused_before_it_is_inflated(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.docx"
    _docx_with_document(bomb, _paragraphs(4_000_000))  # ~140 MB of XML in well under 1 MB on disk
    assert bomb.stat().st_size < 1024 * 1024
    with bounded(), pytest.raises(LimitExceededError, match=r"unpacked|compression ratio"):
        extract_text(bomb)


def test_a_docx_part_with_a_bomb_ratio_is_refused_even_when_small_in_total(tmp_path: Path) -> None:
    bomb = tmp_path / "ratio.docx"
    _docx_with_document(bomb, _paragraphs(200_000))  # ~7 MB of XML, compressed far past MAX_RATIO
    with zipfile.ZipFile(bomb) as archive:
        part = archive.getinfo("word/document.xml")
    assert part.file_size < MAX_UNPACKED_BYTES
    assert part.file_size > MAX_RATIO * part.compress_size
    with bounded(), pytest.raises(LimitExceededError, match="compression ratio"):
        extract_text(bomb)


def test_a_docx_whose_directory_understates_a_part_is_refused_without_inflating_it(tmp_path: Path) -> None:
    honest = tmp_path / "honest.docx"
    _docx_with_document(honest, _paragraphs(1_000_000))
    data = bytearray(honest.read_bytes())
    # Rewrite the central directory's uncompressed size of word/document.xml to a harmless 1 KB.
    entry = data.find(b"PK\x01\x02")
    while data[entry + 46 : entry + 63] != b"word/document.xml":
        entry = data.find(b"PK\x01\x02", entry + 1)
    data[entry + 24 : entry + 28] = (1024).to_bytes(4, "little")  # the entry's uncompressed size
    liar = tmp_path / "liar.docx"
    liar.write_bytes(bytes(data))
    with bounded(), pytest.raises(ExtractionError, match="not a readable DOCX"):
        extract_text(liar)


def test_an_ordinary_docx_still_reads(tmp_path: Path) -> None:
    document = docx.Document()
    for number in range(2_000):
        document.add_paragraph(f"Clause {number}: the supplier keeps records for {number % 7 + 1} years.")
    path = tmp_path / "contract.docx"
    document.save(str(path))
    text = extract_text(path)
    assert "Clause 1999" in text


def _pdf_with_stream(path: Path, stream: bytes, *, flate: bool) -> None:
    body = zlib.compress(stream, 9) if flate else stream
    filters = b" /Filter /FlateDecode" if flate else b""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(body)).encode() + filters + b" >>\nstream\n" + body + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, item in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + item + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))


def test_a_pdf_stream_bomb_is_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.pdf"
    _pdf_with_stream(bomb, b"BT /F1 12 Tf 72 720 Td (a) Tj ET\n" + b" " * (2 * MAX_STREAM_BYTES), flate=True)
    assert bomb.stat().st_size < 1024 * 1024
    with bounded(memory=4 * MAX_STREAM_BYTES), pytest.raises(LimitExceededError, match="compressed stream"):
        extract_text(bomb)


def test_an_ordinary_compressed_pdf_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "memo.pdf"
    _pdf_with_stream(path, b"BT /F1 12 Tf 72 720 Td (Board minutes of March) Tj ET", flate=True)
    assert "Board minutes of March" in extract_text(path)


def test_a_csv_field_past_the_csv_limit_is_a_row_problem(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    path.write_text(f'framework,id,title,text\nacme,ACME-1,Title,"{"x" * 200_000}"\n', "utf-8")
    with pytest.raises(ImportRowsError) as caught:
        load_framework_file(path)
    assert caught.value.errors == ("line 2: a field is longer than 131072 characters",)


def test_a_csv_field_within_the_csv_limit_but_too_long_for_a_requirement_is_a_row_problem(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text(f"framework,id,title,text\nacme,ACME-1,Title,{'x' * 100_000}\n", "utf-8")
    with pytest.raises(ImportRowsError) as caught:
        load_framework_file(path)
    [problem] = caught.value.errors
    assert problem.startswith("row 2: text")


def test_yaml_aliases_are_refused(tmp_path: Path) -> None:
    laughs = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        laughs.append(f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 9) + "]")
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(laughs) + "\n", "utf-8")
    with bounded(), pytest.raises(ImportRowsError, match="aliases"):
        load_framework_file(path)


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_deep_nesting_is_a_clear_problem(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"deep{suffix}"
    path.write_text("[" * 10_000 + "]" * 10_000, "utf-8")
    with bounded(), pytest.raises(ImportRowsError):
        load_framework_file(path)


def test_an_encrypted_docx_is_a_clear_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain.docx"
    docx.Document().save(str(plain))
    data = bytearray(plain.read_bytes())
    entry = data.find(b"PK\x01\x02")
    while entry != -1:
        data[entry + 8] |= 1  # the "encrypted" flag of every central directory entry
        entry = data.find(b"PK\x01\x02", entry + 1)
    locked = tmp_path / "locked.docx"
    locked.write_bytes(bytes(data))
    with pytest.raises(ExtractionError, match="not a readable DOCX"):
        extract_text(locked)


def test_an_xml_part_too_big_to_parse_is_refused_whatever_its_ratio(tmp_path: Path) -> None:
    import random

    words = random.Random(7)

    def write(out: zipfile.ZipExtFile) -> None:  # text that hardly compresses, so the ratio check passes
        out.write(
            b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
        )
        for _ in range(20):
            out.write(b"<w:p><w:r><w:t>" + words.randbytes(1024 * 1024).hex().encode() + b"</w:t></w:r></w:p>")
        out.write(b"</w:body></w:document>")

    big = tmp_path / "big.docx"
    _docx_with_document(big, write)
    with bounded(), pytest.raises(LimitExceededError, match=r"part word/document\.xml"):
        extract_text(big)
