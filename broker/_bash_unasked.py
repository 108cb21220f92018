"""The Bash commands the CLI runs without asking, so a policy standing in for the CLI can allow them too.

With no rule about a command line, the CLI (2.1.330) still runs some lines by itself in every mode but
`bypassPermissions` (where everything runs): read-only commands (`ls`, `pwd`, `cat FILE`, `git status`, ...)
whose every path lies inside the working directories, and, in `acceptEdits`, the file commands `touch`,
`mkdir`, `rm`, `rmdir`, `mv` and `cp` (and `>` / `>>` into a file) on paths inside them. Every command below
was seen to run unasked on the real CLI (tests/broker/test_cli_agreement.py holds the cases).

magistrate's list is the CLI's or narrower, never wider: a command it does not list, a flag that writes,
runs a program or follows links out of the workspace (`sort -o`, `find -exec`, `rg --pre`, `grep -R`),
an expansion it cannot see through (`$VAR`, `$( )`, braces, `~user`, a glob that could name `..`), a
background job, or a path outside the working directories (checked on every spelling, symlinks resolved, globs
expanded) makes the line fall through to the policy's default, which asks. A sensitive file (`.git/`,
`.claude/`, `.bashrc`, ...) is never written unasked, as in the CLI.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence

from magistrate.broker._bash_lexer import SimpleCommand, parse
from magistrate.broker._paths import bounded_glob, inside, resolve, sensitive, unknowable

_Check = Callable[[list[str]], bool]
_GLOB_CHARS = frozenset("*?[")
_MAX_GLOB_MATCHES = 256
_LINE_OPERATORS = frozenset({"&&", "||", ";", "|", "\n"})
_NO_FILES = frozenset({"echo", "printf", "basename", "dirname", "which", "type", "sleep", "date", "uname", "id"})
"""Commands whose operands are strings, not files: nothing to keep inside the working directories."""
_REMOVERS = frozenset({"rm", "rmdir", "mv"})


def _any(args: list[str]) -> bool:
    del args
    return True


def _none(args: list[str]) -> bool:
    return not args


def _short_flags(args: list[str]) -> set[str]:
    """The letters of every short-option cluster (`-rno` gives r, n, o)."""
    return {c for a in args if a.startswith("-") and not a.startswith("--") for c in a[1:]}


def _without(*long: str, short: str = "") -> _Check:
    """Any flags but these: long ones by name (also as `--name=value`), short ones by letter in any cluster."""

    def check(args: list[str]) -> bool:
        if any(a.split("=", 1)[0] in long for a in args if a.startswith("--")):
            return False
        return not (_short_flags(args) & set(short))

    return check


def _date(args: list[str]) -> bool:
    shown = {"-u", "--utc", "--universal", "-R", "--rfc-email"}
    return all(a.startswith(("+", "-I", "--iso-8601", "--rfc-3339")) or a in shown for a in args)


def _find(args: list[str]) -> bool:
    acting = {"-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls"}
    return not any(a in acting or a in {"-L", "-follow"} for a in args)


def _git(args: list[str]) -> bool:
    if not args or args[0] not in {"status", "log", "diff", "show"}:
        return False
    return _without("--output", "--ext-diff")(args[1:])


def _cd(args: list[str]) -> bool:
    return len([a for a in args if a not in {"-P", "-L"}]) <= 1


# Seen to run unasked on CLI 2.1.330 with paths inside the working directory (flags as restricted here).
_READ_ONLY: dict[str, _Check] = {
    "ls": _any,
    "pwd": _any,
    "cat": _any,
    "head": _any,
    "tail": _any,
    "wc": _any,
    "grep": _without("--dereference-recursive", short="R"),
    "rg": _without("--pre", "--follow", short="L"),
    "echo": _any,
    "printf": _without(short="v"),
    "which": _any,
    "type": _any,
    "date": _date,
    "whoami": _none,
    "id": _any,
    "uname": _any,
    "hostname": _none,
    "stat": _any,
    "file": _without("--compile", short="C"),
    "sort": _without("--output", "--compress-program", short="o"),
    "find": _find,
    "diff": _any,
    "du": _without("--dereference", short="L"),
    "df": _any,
    "tree": _without("--fromfile", short="oRl"),
    "git": _git,
    "true": _any,
    "sleep": _any,
    "test": _any,
    "[": _any,
    "basename": _any,
    "dirname": _any,
    "realpath": _any,
    "readlink": _any,
    "cut": _any,
    "tr": _any,
    "od": _any,
    "md5sum": _any,
    "sha256sum": _any,
    "nl": _any,
    "rev": _any,
    "column": _any,
    "strings": _any,
    "jq": _any,
    "ps": _any,
    "cd": _cd,
}
# Seen to run unasked in acceptEdits on paths inside the working directory; `cp` and `mv` only without flags.
_FILE_COMMANDS: dict[str, _Check] = {
    "touch": _any,
    "mkdir": _any,
    "rm": _any,
    "rmdir": _any,
    "mv": lambda args: not any(a.startswith("-") for a in args),
    "cp": lambda args: not any(a.startswith("-") for a in args),
}


def _find_paths(args: Sequence[str]) -> list[str]:
    """The folders `find` starts from: the words before its expression (the rest are tests and patterns)."""
    out: list[str] = []
    for arg in args:
        if arg.startswith(("-", "(", "!", ")")):
            break
        out.append(arg)
    return out


def _path_words(args: Sequence[str]) -> list[str]:
    """Every word that may name a file: operands, and the values of options (`--file=x`, `-fx`)."""
    out: list[str] = []
    operands = False
    for arg in args:
        if operands or not arg.startswith("-") or arg == "-":
            if arg != "-":
                out.append(arg)
        elif arg == "--":
            operands = True
        elif arg.startswith("--"):
            if "=" in arg:
                out.append(arg.split("=", 1)[1])
        else:
            value = arg[1:].lstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
            if value:
                out.append(value)
    return out


def _opaque_word(word: str) -> bool:
    """A word the shell expands in a way a path check cannot follow."""
    if any(c in word for c in "$`{}…") or (word.startswith("~") and word != "~" and not word.startswith("~/")):
        return True
    # `.*` may name `..` (bash before globskipdots); a bracket may name `.` too.
    return any(seg.startswith((".", "[")) and _GLOB_CHARS & set(seg) for seg in word.split("/"))


class _Line:
    """One command line being checked: its working directories and the folders `cd` moved into."""

    def __init__(self, cwd: str, home: str, working_dirs: tuple[str, ...]) -> None:
        self.cwd = cwd
        self.home = home
        self.working_dirs = working_dirs
        self.bases = [cwd]
        self.folders: dict[str, str] = {}

    def spellings(self, word: str) -> list[str] | None:
        """Every absolute spelling the word may have, globs expanded; None when it cannot be known."""
        if _opaque_word(word) or unknowable(word):
            return None
        relative = not word.startswith(("/", "~"))
        out: list[str] = []
        for base in self.bases if relative else self.bases[:1]:
            names = resolve(word, base, self.home, self.folders)
            out.extend(names)
            if _GLOB_CHARS & set(word):
                matches = bounded_glob(names[0], max_matches=_MAX_GLOB_MATCHES)
                if matches is None:
                    return None  # too wide to walk within a decision's budget
                for match in matches:
                    out.extend(resolve(match, base, self.home, self.folders))
        return out

    def inside(self, words: Sequence[str], *, writes: bool = False, removes: bool = False) -> bool:
        for word in words:
            names = self.spellings(word)
            if names is None:
                return False
            for name in names:
                if not inside(name, self.working_dirs):
                    return False
                if writes and sensitive(name):
                    return False
                if removes and any(inside(folder, (name,)) for folder in self.working_dirs):
                    return False  # removing or moving a working directory itself, or a folder above one
        return True


def _command_ok(command: SimpleCommand, line: _Line, *, accept_edits: bool) -> bool:
    words = command.words
    if not words:
        return False
    name, args = words[0], list(words[1:])
    read_check = _READ_ONLY.get(name)
    file_check = _FILE_COMMANDS.get(name) if accept_edits else None
    check = read_check or file_check
    if check is None or not check(args):
        return False
    if any(_GLOB_CHARS & set(a) for a in args) and file_check is not None:
        return False  # a glob in what a file command changes could reach anything in the workspace
    if name in _NO_FILES:
        if any(_opaque_word(w) for w in args):
            return False
    elif name == "find":
        if not line.inside(_find_paths(args)) or any(_opaque_word(w) for w in args):
            return False
    elif not line.inside(_path_words(args), writes=file_check is not None, removes=name in _REMOVERS):
        return False
    for redirect in command.redirects:
        if "<<" in redirect.op or (not redirect.writes_file and ">" in redirect.op):
            continue  # here-documents, descriptor copies, /dev/null
        if "<" in redirect.op and ">" not in redirect.op:
            if not line.inside([redirect.target]):
                return False
        elif not accept_edits or not line.inside([redirect.target], writes=True):
            return False
    if name == "cd":
        targets = _path_words(args) or ["~"]
        names = line.spellings(targets[0])
        if not names:
            return False
        line.bases.append(names[0])
    return True


def runs_unasked(
    command: str, *, cwd: str, home: str, working_dirs: tuple[str, ...], accept_edits: bool = False
) -> bool:
    """Would the CLI run this line without asking (read-only, or a file command in `acceptEdits`)?"""
    parsed = parse(command)
    if parsed.error or parsed.hidden or parsed.opaque or parsed.nested or not parsed.commands:
        return False
    if not set(parsed.operators) <= _LINE_OPERATORS:
        return False
    line = _Line(posixpath.normpath(cwd), home, working_dirs)
    return all(_command_ok(c, line, accept_edits=accept_edits) for c in parsed.commands)
