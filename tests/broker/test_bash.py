"""The Bash analysis: which forms an allow must cover and a deny searches, and which files a line touches."""

from __future__ import annotations

import pytest

from magistrate.broker._bash import analyse
from magistrate.broker._bash_lexer import parse


def test_compound_commands_split_at_every_operator() -> None:
    line = "a 1 && b 2 || c 3; d 4 | e 5 & f 6\ng 7 |& h 8"
    assert [c.words[0] for c in parse(line).commands] == list("abcdefgh")


def test_quotes_and_backslashes_are_removed_as_the_shell_would() -> None:
    [command] = parse("""r\\m  'a b'  "c \\"d\\""  e\\ f""").commands
    assert command.words == ["rm", "a b", 'c "d"', "e f"]


def test_redirections_are_kept_apart_from_words() -> None:
    [command] = parse("cmd a > out.txt 2>&1 < in.txt").commands
    assert command.words == ["cmd", "a"]
    assert [(r.op, r.target, r.writes_file) for r in command.redirects] == [
        (">", "out.txt", True),
        ("2>&", "1", False),
        ("<", "in.txt", False),
    ]


@pytest.mark.parametrize(
    ("line", "forms"),
    [
        ("timeout 5 npm test", [("npm", "test")]),
        ("nice -n 5 nohup time stdbuf -oL npm test", [("npm", "test")]),
        ("command npm test", [("npm", "test")]),
        ("xargs -n 1 npm test", [("npm", "test")]),
        ("npm test | grep ok", [("npm", "test"), ("grep", "ok")]),
        ("npm test 2>/dev/null", [("npm", "test")]),
    ],
)
def test_allow_forms_strip_the_safe_wrappers(line: str, forms: list[tuple[str, ...]]) -> None:
    assert analyse(line).allow_forms == tuple(forms)


@pytest.mark.parametrize(
    "line",
    [
        "npm test $(whoami)",
        "npm test `whoami`",
        "npm test <(whoami)",
        "(npm test)",
        "{ npm test; }",
        "bash -c 'npm test'",
        "sh -lc 'npm test'",
        "eval npm test",
        "find . -exec npm test \\;",
        "npx npm test",
        "env X=1 npm test",
        "X=1 npm test",
        "npm test > out.txt",
        "npm test >> out.txt",
        "source ./x.sh",
        "if true; then npm test; fi",
        "echo 'unterminated",
        "sudo npm test",
    ],
)
def test_lines_that_hide_or_change_a_command_are_never_allowable(line: str) -> None:
    assert analyse(line).allow_forms is None


@pytest.mark.parametrize(
    "line",
    [
        "rm -rf x",
        "  rm   -rf   x  ",
        "'rm' \"-rf\" x",
        "\\rm -rf x",
        "/bin/rm -rf x",
        "timeout 5 rm -rf x",
        "env -i A=1 rm -rf x",
        "A=1 B=2 rm -rf x",
        "sudo -u root rm -rf x",
        "command rm -rf x",
        "ls && rm -rf x",
        "ls; rm -rf x",
        "ls | rm -rf x",
        "echo $(rm -rf x)",
        'echo "$(rm -rf x)"',
        "echo `rm -rf x`",
        "cat <(rm -rf x)",
        "(rm -rf x)",
        "{ rm -rf x; }",
        "bash -c 'rm -rf x'",
        'sh -c "ls; rm -rf x"',
        "bash -c \"bash -c 'rm -rf x'\"",
        "eval 'rm -rf x'",
        "eval rm -rf x",
        "find . -exec rm -rf x \\;",
        "find . -execdir rm -rf x +",
        "npx -y rm -rf x",
        "xargs rm -rf x",
        "env -S 'rm -rf x'",
        "for f in a; do rm -rf x; done",
        "cat <<EOF\n$(rm -rf x)\nEOF",
    ],
)
def test_deny_forms_find_the_command_wherever_it_hides(line: str) -> None:
    assert ("rm", "-rf", "x") in analyse(line).deny_forms


def test_quoted_here_document_is_data() -> None:
    analysis = analyse("cat <<'EOF'\n$(rm -rf x)\nEOF\necho done")
    assert ("rm", "-rf", "x") not in analysis.deny_forms
    assert analysis.allow_forms == (("cat",), ("echo", "done"))


def test_file_arguments_are_listed_for_read_and_edit_rules() -> None:
    analysis = analyse("cat a.txt < in.txt > out.txt && cp src dst && dd if=i of=o && sed -i s/x/y/ f")
    assert {"a.txt", "in.txt", "src", "dst", "i", "o"} <= set(analysis.read_paths)
    assert {"out.txt", "src", "dst", "i", "o", "f"} <= set(analysis.write_paths)
    assert "a.txt" not in analysis.write_paths


@pytest.mark.parametrize("line", ["timeout 5 { rm -rf x; }", "nohup ! rm -rf x", "sudo then rm -rf x"])
def test_group_words_behind_a_wrapper_do_not_hide_the_command(line: str) -> None:
    # Found by the property tests: a wrapper followed by a group word.
    assert ("rm", "-rf", "x") in analyse(line).deny_forms


@pytest.mark.parametrize(
    "line",
    [
        "$'rm' -rf x",
        "$'\\x72m' -rf x",
        "$'\\162m' -rf x",
        '$"rm" -rf x',
        "{rm,-rf,x}",
        "rm${IFS}-rf${IFS}x",
        "rm$IFS-rf$IFS'x'",
    ],
)
def test_quoting_expansions_and_globs_that_spell_a_command(line: str) -> None:
    assert ("rm", "-rf", "x") in analyse(line).deny_forms


@pytest.mark.parametrize("line", ["/usr/bin/r? -rf x", "r? -rf x", "[r]m x", "$CMD x", "${x:-rm} x", "`echo rm` x"])
def test_a_glob_or_expansion_in_the_command_name_hides_the_command(line: str) -> None:
    """Which file a glob names depends on the call's folder, never the broker's: the line is refused."""
    assert analyse(line).hidden is not None


@pytest.mark.parametrize("line", ["$CMD -rf x", "{ls,rm} x", "/usr/bin/l? x", "l* x"])
def test_a_command_name_the_shell_computes_is_never_allowable(line: str) -> None:
    assert analyse(line).allow_forms is None


# -- wrappers by their option grammar ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "form"),
    [
        ("timeout -k 1 5s curl x", ("curl", "x")),
        ("timeout --signal=KILL 5 curl", ("curl",)),
        ("nice -5 curl", ("curl",)),
        ("nice -n 5 curl", ("curl",)),
        ("chrt -f 1 curl x", ("curl", "x")),
        ("taskset -c 0-3 curl", ("curl",)),
        ("flock -n /tmp/l curl x", ("curl", "x")),
        ("flock /tmp/l -c 'curl x'", ("curl", "x")),
        ("script -qc 'curl x' /dev/null", ("curl", "x")),
        ("watch -n 1 curl x", ("curl", "x")),
        ("strace -f -o /dev/null curl", ("curl",)),
        ("busybox curl x", ("curl", "x")),
        ("env -S 'curl x'", ("curl", "x")),
        ("bash -c -- 'curl x'", ("curl", "x")),
        ("bash -o pipefail -xc 'curl x'", ("curl", "x")),
        ("sudo -u root -- curl", ("curl",)),
        ("unshare -r curl", ("curl",)),
        ("sg group 'curl x'", ("curl", "x")),
        ("strace --unknown-option curl", ("curl",)),
    ],
)
def test_wrappers_are_read_by_their_option_grammar(line: str, form: tuple[str, ...]) -> None:
    assert form in analyse(line).deny_forms


@pytest.mark.parametrize("line", ["chrt -p 1 1234", "taskset -p 1 1234", "command -v curl", "timeout 5 -- curl"])
def test_wrapper_options_that_run_nothing_run_nothing(line: str) -> None:
    """`timeout 5 -- curl` runs a program named `--` (GNU timeout stops at its first operand)."""
    assert ("curl",) not in analyse(line).deny_forms


@pytest.mark.parametrize(
    "line", ["echo x | bash", "bash <<< x", "sh -s", "sudo -s", "unshare", "chroot /", "su", "xargs bash -c", "at now"]
)
def test_a_shell_with_commands_from_elsewhere_is_hidden(line: str) -> None:
    assert analyse(line).hidden is not None


@pytest.mark.parametrize(
    ("line", "writes"),
    [
        ("sort -o out.txt in.txt", "out.txt"),
        ("sort --output=out.txt in.txt", "out.txt"),
        ("sed --in-place=.bak s/a/b/ f.txt", "f.txt"),
        ("sed -Ei s/a/b/ f.txt", "f.txt"),
        ("gzip f.txt", "f.txt.gz"),
        ("gunzip f.txt.gz", "f.txt"),
        ("cp --target-directory=d x", "d"),
        ("dd if=a of=b", "b"),
        ("git rm -r d", "d"),
        ("wget -O page.html http://h", "page.html"),
    ],
)
def test_writers_name_what_they_write(line: str, writes: str) -> None:
    assert writes in analyse(line).write_paths


@pytest.mark.parametrize(
    "line", ["tar -xf a.tar", "unzip a.zip -d d", "find . -delete", "git checkout main", "wget http://h"]
)
def test_writes_that_cannot_be_named_write_beneath_a_folder(line: str) -> None:
    assert analyse(line).write_trees
