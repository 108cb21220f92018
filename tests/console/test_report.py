"""`magistrate audit report --html FILE`: one self-contained file, with no script and no outside address.

The report is parsed (not matched as text) to count its decision rows and to look at every tag and attribute.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from tests.console.conftest import Governed


class _Parsed(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def report(governed: Governed, path: Path, *args: str) -> _Parsed:
    done = governed.magistrate(
        "audit", "report", "--html", str(path), "--db", str(governed.trail), "--key", str(governed.key), *args
    )
    assert done.returncode == 0, done.stderr
    parsed = _Parsed()
    parsed.feed(path.read_text(encoding="utf-8"))
    return parsed


def decision_rows(parsed: _Parsed) -> list[dict[str, str | None]]:
    return [attrs for tag, attrs in parsed.tags if tag == "tr" and attrs.get("data-testid") == "decision-row"]


def test_the_report_holds_the_overview_and_every_decision_and_nothing_from_outside(
    governed: Governed, tmp_path: Path
) -> None:
    parsed = report(governed, tmp_path / "report.html")
    tags = {tag for tag, _ in parsed.tags}
    assert "script" not in tags
    assert not tags & {"link", "img", "iframe", "object", "embed", "form"}
    for tag, attrs in parsed.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)  # no inline handlers either
            assert name not in ("href", "src", "action"), (tag, name)
            assert "://" not in (value or ""), (tag, name, value)
    assert not re.search(r"url\(|@import", "".join(parsed.styles))
    [status] = [attrs for _, attrs in parsed.tags if attrs.get("data-testid") == "trail-status"]
    assert status["data-state"] == "intact"
    rows = decision_rows(parsed)
    assert len(rows) == 4  # ls, cat, the write and the echo of the governed run
    seqs = [int(r["data-seq"] or "") for r in rows]
    assert seqs == sorted(seqs, reverse=True)


def test_since_and_session_select_what_goes_in(governed: Governed, tmp_path: Path) -> None:
    done = governed.magistrate("audit", "export", "--db", str(governed.trail))
    session = done.stdout.split('"session_id":"', 1)[1].split('"', 1)[0]
    assert len(decision_rows(report(governed, tmp_path / "a.html", "--session", session[:8]))) == 4
    assert decision_rows(report(governed, tmp_path / "b.html", "--session", "nobody")) == []
    assert len(decision_rows(report(governed, tmp_path / "c.html", "--since", "1d"))) == 4
    assert decision_rows(report(governed, tmp_path / "d.html", "--since", "2999-01-01")) == []
    plain = governed.magistrate("audit", "report", "--html", str(tmp_path / "e.html"), "--db", str(governed.trail))
    assert plain.returncode == 0, plain.stderr  # the key from the environment, as `audit verify` finds it
    assert 'data-state="intact"' in (tmp_path / "e.html").read_text()
    wrong = governed.magistrate(
        "audit", "report", "--html", str(tmp_path / "f.html"), "--db", str(governed.trail), "--since", "soon"
    )
    assert wrong.returncode == 2
    assert wrong.stderr.startswith("magistrate audit: --since: not a time")
    assert not (tmp_path / "f.html").exists()
