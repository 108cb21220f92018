"""Text extraction from the file types `magistrate documents add` takes."""

from __future__ import annotations

from pathlib import Path

import docx
import pytest

from magistrate.servers._documents_extract import extract_text
from magistrate.servers._errors import ExtractionError


def write_pdf(path: Path, text: str) -> None:
    """A minimal one-page PDF with a real text layer and a correct cross-reference table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))


def test_pdf_text_layer(tmp_path: Path) -> None:
    path = tmp_path / "contract.pdf"
    write_pdf(path, "Either party may terminate on ninety days notice.")
    assert "terminate on ninety days notice" in extract_text(path)


def test_docx_paragraphs_and_tables(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Data Processing Addendum")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Retention"
    table.rows[0].cells[1].text = "30 days"
    path = tmp_path / "dpa.docx"
    document.save(str(path))
    text = extract_text(path)
    assert "Data Processing Addendum" in text
    assert "Retention | 30 days" in text


def test_markdown_and_text_are_read_as_utf8(tmp_path: Path) -> None:
    path = tmp_path / "notes.MD"
    path.write_text("# Préambule\r\nTexte.\x00", "utf-8")
    assert extract_text(path) == "# Préambule\nTexte."


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("image.png", b"\x89PNG", "unsupported file type .png"),
        ("broken.pdf", b"not a pdf", "not a readable PDF"),
        ("broken.docx", b"not a zip", "not a readable DOCX"),
        ("latin1.txt", "café".encode("latin-1"), "not readable as UTF-8"),
        ("empty.md", b"  \n", "no text found"),
    ],
)
def test_unreadable_files_are_clear_errors(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ExtractionError, match=expected):
        extract_text(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match="No such file"):
        extract_text(tmp_path / "gone.pdf")
