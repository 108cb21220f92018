"""The shell lexer, checked against bash itself: what bash runs is what the decision saw.

Hypothesis writes command lines from the parts of bash's grammar the lexer claims to understand (quotes of
every kind, escapes, line continuations, brace expansion, comments, redirections, here-strings and
here-documents with awkward delimiters) around three stand-in programs. bash runs each line in a scratch
folder with a bare environment; each stand-in records the argv it was given. Every command bash ran must be
among the forms the analysis searches (unless the analysis refused the line as hidden), and a line the
analysis would let an allow cover must run exactly the commands it lists. Only the stand-ins and bash's
builtins run; the examples are bounded and derandomised, so the suite stays fast and repeatable
(`MAGISTRATE_SHELL_FUZZ=N` runs N random examples instead).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from magistrate.broker._bash import analyse

_BASH = shutil.which("bash")
_NAMES = ("c1", "c2", "c3")
_RECORDER = """#!/bin/sh
printf '%s\\037' "${0##*/}" "$@" > "$LOGDIR/$$"
"""
_FUZZ = int(os.environ.get("MAGISTRATE_SHELL_FUZZ", "0"))

_plain = st.from_regex(r"[a-z0-9_.,:+@%-]{1,6}", fullmatch=True)
_single = st.text(alphabet='ab $`"\\;|&(){}#*\n\t', max_size=6).map(lambda t: f"'{t}'")
_double_piece = st.sampled_from(
    ["a", "b", " ", "\\$", '\\"', "\\\\", "\\`", ";", "|", "'", "#", "{x,y}", "\\\n", "\\n"]
)
_double = st.lists(_double_piece, max_size=5).map(lambda parts: '"' + "".join(parts) + '"')
_ansi_piece = st.sampled_from(["a", "\\n", "\\t", "\\x41", "\\101", "\\'", "\\\\", " ", "\\u00e9", "$", "\\e"])
_ansi = st.lists(_ansi_piece, max_size=4).map(lambda parts: "$'" + "".join(parts) + "'")
_escape = st.sampled_from(
    ["\\ ", "\\;", "\\|", "\\&", "\\'", '\\"', "\\$", "\\\\", "\\#", "\\{", "\\}", "\\\nx", "\\<"]
)
_brace = st.sampled_from(["{a,b}", "x{1..3}", "{a,}b", "{,c}1", "{x}", "{a,{b,c}}", "a{b..d..2}", "{}", "{1..2}{a,b}"])
_piece = st.one_of(_plain, _plain, _single, _double, _ansi, _escape, _brace)
_word = st.lists(_piece, min_size=1, max_size=3).map("".join)
_redirect = st.sampled_from(["", "", "", " >/dev/null", " 2>&1", " </dev/null", " 2>/dev/null", " <<< hi", " <<<'a b'"])
_comment = st.sampled_from(["", "", "", " # c2 hidden", " #c3"])


@st.composite
def _command(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(_NAMES))
    if draw(st.booleans()):
        name = draw(st.sampled_from([name, f"'{name}'", f'"{name}"', f"\\{name}", f"{name[0]}''{name[1:]}"]))
    words = draw(st.lists(_word, max_size=4))
    prefix = draw(st.sampled_from(["", "", "", "X=1 ", "A='b c' "]))
    return prefix + " ".join([name, *words]) + draw(_redirect)


@st.composite
def _heredoc(draw: st.DrawFn) -> str:
    """A command fed a here-document whose end bash places by its own rules, then the commands after it."""
    dash = draw(st.booleans())
    delimiter, word = draw(
        st.sampled_from(
            [("EOF", "EOF"), ("EOF", "'EOF'"), ("EOF", '"EOF"'), ("EOF", 'E"O"F'), ("EOF", "\\EOF"), ("EOF", "EO\\\nF")]
        )
    )
    body = draw(
        st.lists(
            st.sampled_from(["text", "EO\\", "F", "EOF ", "\tEOF", "EOF\\", "x\\\\", "c2 body", "E\\", "OF", " EOF"]),
            max_size=5,
        )
    )
    end = draw(st.sampled_from([delimiter, delimiter, "\t" + delimiter, ""]))
    lines = [f"{draw(_command())} <<{'-' if dash else ''}{word}", *body, end]
    return "\n".join(lines) + "\n" + draw(_command())


_separator = st.sampled_from([" ; ", " && ", " | ", "\n", ";", "|", " &&\n", " |\n", " || "])


@st.composite
def _line(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(_command(), _command(), _heredoc()), min_size=1, max_size=3))
    out = parts[0]
    for part in parts[1:]:
        out += draw(_separator) + part
    return out + draw(_comment)


def _run(line: str, folder: Path) -> list[tuple[str, ...]]:
    """The argv of every stand-in bash ran for `line`."""
    logs = folder / "log"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    env = {"PATH": f"{folder / 'bin'}:/usr/bin:/bin", "LOGDIR": str(logs), "LC_ALL": "C.UTF-8"}
    assert _BASH is not None
    subprocess.run(
        [_BASH, "--norc", "--noprofile", "-c", line],
        cwd=folder / "work",
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=10,
        check=False,
    )
    runs = []
    for record in logs.iterdir():
        fields = record.read_bytes().decode("utf-8", "surrogateescape").split("\x1f")
        runs.append(tuple(fields[:-1]))
    return runs


def _stand_ins(forms: tuple[tuple[str, ...], ...]) -> Counter[tuple[str, ...]]:
    """The forms that name a stand-in (bash also tries to run words like `EOF`, which record nothing)."""
    return Counter(form for form in forms if form[0] in _NAMES)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("oracle")
    (folder / "bin").mkdir()
    (folder / "work").mkdir()
    for name in _NAMES:
        script = folder / "bin" / name
        script.write_text(_RECORDER)
        script.chmod(0o755)
    return folder


@pytest.mark.skipif(_BASH is None, reason="bash is not installed")
@settings(
    max_examples=_FUZZ or 40,
    derandomize=not _FUZZ,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(line=_line())
def test_what_bash_runs_is_what_the_analysis_saw(line: str, sandbox: Path) -> None:
    ran = _run(line, sandbox)
    analysis = analyse(line)
    if analysis.hidden is not None:
        return  # refused: every deny applies, no allow covers it
    forms = set(analysis.deny_forms)
    for argv in ran:
        assert argv in forms, f"bash ran {argv!r}, which the analysis never saw in {line!r}: {analysis.deny_forms}"
    if analysis.allow_forms is not None:
        for argv in ran:
            assert argv in analysis.allow_forms, f"bash ran {argv!r} outside the allow forms of {line!r}"
        if "||" not in line:
            expected = _stand_ins(analysis.allow_forms)
            assert Counter(ran) == expected, f"{line!r}: ran {ran}, allow forms {analysis.allow_forms}"


@pytest.mark.skipif(_BASH is None, reason="bash is not installed")
@pytest.mark.parametrize(
    "line",
    [
        "c1 <<EOF\nEO\\\nF\nc2 after\nEOF",
        "c1 <<EO\\\nF\nbody\nEOF\nc2 next",
        "c1 <<'EOF'\nEO\\\nF\nEOF\nc2 q",
        "c1 <<-EOF\n\tEOF\nc2 r",
        "c1 <<EOF\nx\\\\\nEOF\nc3 s",
        "c1 {a,b} x{1..2}",
        "c1 $'a\\x41' \"b\\$\" 'c d'",
        "c1 a\\\nb",
    ],
)
def test_known_cases_agree_with_bash(line: str, sandbox: Path) -> None:
    ran = _run(line, sandbox)
    analysis = analyse(line)
    assert analysis.hidden is None
    assert analysis.allow_forms is not None
    assert Counter(ran) == _stand_ins(analysis.allow_forms), (ran, analysis.allow_forms)
