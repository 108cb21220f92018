"""What a Bash command really runs, in the forms allow and deny rules are matched against.

Allow and deny need different answers, because failing closed means opposite things for them:

- An **allow** must cover every top-level command of the line on its own, after the harmless wrappers the CLI
  strips (`timeout`, `nice`, `nohup`, `time`, `stdbuf`, `command`, `xargs`). A line that hides a command
  (`$( )`, backticks, process substitution, groups, control keywords, `bash -c`, `eval`, `find -exec`, `npx`,
  `source`), sets variables (`env X=1`, `X=1 cmd`), redirects output to a file, or does not parse, is never
  covered by any allow: it falls through to ask, or to the policy's default.
- A **deny** is searched in every command anywhere in the line, in every form it could take: behind wrappers
  and `sudo`, behind `env` and assignments, as `/usr/bin/x` or `\\x`, inside substitutions, and inside the
  strings run by `bash -c`, `eval`, `find -exec`, `npx`, `xargs` and `env -S` (the CLI misses those last ones;
  magistrate does not).

Read and Edit rules also gate the files a command touches, so the analysis lists the words that may be paths.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from magistrate.broker._bash_lexer import Parsed, SimpleCommand, parse

_SAFE_WRAPPERS = frozenset({"timeout", "nice", "nohup", "time", "stdbuf", "command", "xargs"})
_OTHER_WRAPPERS = frozenset({"sudo", "doas", "exec", "builtin", "env", "setsid", "ionice", "chrt", "taskset"})
_SHELLS = frozenset({"bash", "sh", "zsh", "dash", "ksh", "mksh", "ash", "fish", "busybox", "su"})
_NPX = frozenset({"npx", "bunx", "pnpx"})
_HIDING = frozenset({"eval", "source", ".", "exec"})
_FIND_EXEC = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
_WRITERS = frozenset(
    {"touch", "cp", "mv", "rm", "tee", "mkdir", "rmdir", "ln", "chmod", "chown", "chgrp", "truncate", "install"}
    | {"dd", "rsync", "unlink", "shred", "patch", "scp"}
)
# Options that take a separate value, per wrapper; any other word starting with `-` is a flag.
_VALUE_OPTIONS: dict[str, frozenset[str]] = {
    "timeout": frozenset({"-s", "-k", "--signal", "--kill-after"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "time": frozenset({"-f", "-o", "--format", "--output"}),
    "stdbuf": frozenset({"-i", "-o", "-e", "--input", "--output", "--error"}),
    "xargs": frozenset({"-I", "-n", "-P", "-d", "-E", "-L", "-s", "-a", "--arg-file", "--delimiter", "--max-args"}),
    "sudo": frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T", "--user", "--group"}),
    "doas": frozenset({"-u", "-C"}),
    "exec": frozenset({"-a"}),
    "env": frozenset({"-u", "--unset", "-C", "--chdir"}),
    "ionice": frozenset({"-c", "-n", "-p"}),
    "npx": frozenset({"-p", "--package", "--call"}),
}
_MAX_PAYLOAD_DEPTH = 8
_GROUP_AND_KEYWORDS = frozenset({"{", "}", "(", ")", "!", "if", "then", "else", "elif", "do", "while", "until"})


@dataclass(frozen=True, slots=True)
class BashAnalysis:
    """A command line, analysed once per call and shared by every Bash rule of the policy."""

    allow_forms: tuple[tuple[str, ...], ...] | None
    """One word tuple per top-level command, safe wrappers stripped; None when no allow may cover the line."""
    allow_texts: tuple[str, ...]
    """The source text of each top-level command, for exact allows (which the CLI matches literally)."""
    deny_forms: tuple[tuple[str, ...], ...]
    """Every form of every command anywhere in the line, for deny and ask rules."""
    read_paths: tuple[str, ...]
    """Words that may name files the line reads (arguments, `<` targets)."""
    write_paths: tuple[str, ...]
    """Words that name files the line may change (output redirections, arguments of `cp`, `rm`, `tee`, ...)."""
    cd_targets: tuple[str, ...] = ()
    """Folders the line moves into (`cd`, `pushd`): its relative paths may be relative to any of them."""
    parse_error: str | None = None


def _is_assignment(word: str) -> bool:
    name, eq, _ = word.partition("=")
    return bool(eq) and name.isidentifier()


def _skip_options(words: list[str], i: int, wrapper: str) -> int:
    with_value = _VALUE_OPTIONS.get(wrapper, frozenset())
    while i < len(words) and words[i].startswith("-") and words[i] != "-":
        if words[i] == "--":
            return i + 1
        i += 2 if words[i] in with_value else 1
    return i


def _basename(word: str) -> str:
    return word.rsplit("/", 1)[-1] if "/" in word else word


def _shell_payload(words: list[str]) -> str | None:
    """The command string of `bash -c STRING` (also `-lc`, `-ec`, `su -c`), or None."""
    for i, word in enumerate(words[1:], start=1):
        if word.startswith("-") and not word.startswith("--") and "c" in word[1:]:
            return words[i + 1] if i + 1 < len(words) else ""
        if word == "--command":
            return words[i + 1] if i + 1 < len(words) else ""
    return None


_BRACES = re.compile(r"^(.*?)\{([^{}]*,[^{}]*)\}(.*)$")


def _expand_braces(words: list[str]) -> list[str]:
    """Bash's brace expansion, one group per word: `{rm,-rf,x}` runs `rm -rf x`."""
    out: list[str] = []
    for word in words:
        match = _BRACES.match(word) if "{" in word and "," in word else None
        if match is None:
            out.append(word)
        else:
            head, body, tail = match.groups()
            out.extend(f"{head}{alt}{tail}" for alt in body.split(","))
    return out


def _command_names(word: str) -> list[str]:
    """What an absolute glob in the command position runs (`/bin/r?` may be `/bin/rm`), as base names."""
    if not word.startswith("/") or not any(c in word for c in "*?["):
        return []
    return [_basename(match) for match in sorted(glob.glob(word))[:32]]  # noqa: PTH207 - a shell glob


def _unwrap(words: list[str], depth: int) -> Iterator[tuple[str, ...] | str]:
    """Yield each form of a command (word tuples), and the command strings it runs (str), wrappers peeled."""
    expanded = _expand_braces(words)
    if expanded != words:
        yield tuple(words)
    yield from _peel(expanded, depth)


def _peel(current: list[str], depth: int) -> Iterator[tuple[str, ...] | str]:
    while current:
        yield tuple(current)
        first = _basename(current[0])
        if first != current[0]:
            yield (first, *current[1:])
        for name in _command_names(current[0]):
            yield (name, *current[1:])
        if first in _GROUP_AND_KEYWORDS:  # `timeout 5 { rm x; }`: a group word where a wrapper expects a command
            current = current[1:]
            continue
        if _is_assignment(current[0]):
            i = 0
            while i < len(current) and _is_assignment(current[i]):
                i += 1
            current = current[i:]
            continue
        if first == "env":
            for i, word in enumerate(current):
                if word in {"-S", "--split-string"} and i + 1 < len(current):
                    yield " ".join(current[i + 1 :])
                elif word.startswith("--split-string="):
                    yield " ".join([word.partition("=")[2], *current[i + 1 :]])
        if first in _SAFE_WRAPPERS or first in _OTHER_WRAPPERS:
            i = _skip_options(current, 1, first)
            if first == "timeout":
                i += 1
            while first == "env" and i < len(current) and _is_assignment(current[i]):
                i += 1
            if i >= len(current):
                return
            current = current[i:]
            continue
        if first in _NPX:
            i = _skip_options(current, 1, "npx")
            for j, word in enumerate(current[1:i], start=1):
                if word in {"-c", "--call"} and j + 1 < len(current):
                    yield current[j + 1]
            current = current[i:]
            continue
        if first in _SHELLS:
            payload = _shell_payload(current)
            if payload is not None and depth < _MAX_PAYLOAD_DEPTH:
                yield payload
            return
        if first == "eval":
            yield " ".join(current[1:])
            return
        if first == "find":
            for i, word in enumerate(current):
                if word in _FIND_EXEC:
                    end = next((j for j in range(i + 1, len(current)) if current[j] in {";", "+"}), len(current))
                    yield from _unwrap(current[i + 1 : end], depth + 1)
        return


def _hides_command(words: tuple[str, ...]) -> bool:
    if any(c in words[0] for c in "${*?["):  # the shell decides what runs: expansion, braces, globs
        return True
    first = _basename(words[0])
    if first in _HIDING or first in _NPX or first in _OTHER_WRAPPERS or _is_assignment(words[0]):
        return True
    if first in _SHELLS and _shell_payload(list(words)) is not None:
        return True
    return first == "find" and any(w in _FIND_EXEC for w in words)


def _strip_safe(words: list[str]) -> list[str]:
    while words and words[0] in _SAFE_WRAPPERS:
        i = _skip_options(words, 1, words[0])
        if words[0] == "timeout":
            i += 1
        words = words[i:]
    return words


@dataclass(slots=True)
class _Paths:
    """Words that may be paths, gathered while a line is analysed."""

    reads: list[str]
    writes: list[str]
    dirs: list[str]


def _paths_of(command: SimpleCommand, forms: list[tuple[str, ...]], paths: _Paths) -> None:
    reads, writes = paths.reads, paths.writes
    for redirect in command.redirects:
        if "<<" in redirect.op or (redirect.op.endswith("&") and (redirect.target.isdigit() or redirect.target == "-")):
            continue
        (writes if redirect.writes_file else reads).append(redirect.target)
    for form in forms:
        first = _basename(form[0])
        args = [w.partition("=")[2] if first == "dd" and "=" in w else w for w in form[1:]]
        args = [w for w in args if w and not w.startswith("-")]
        reads.extend(args)
        if first in {"cd", "pushd"}:  # later relative paths may be relative to here
            paths.dirs.append(args[0] if args else "~")
        if first in _WRITERS or (first == "sed" and any(w.startswith("-i") or w == "--in-place" for w in form)):
            writes.extend(args)


def _collect(text: str, depth: int, forms: list[tuple[str, ...]], paths: _Paths) -> Parsed:
    parsed = parse(text)
    for command in [*parsed.commands, *parsed.nested]:
        command_forms: list[tuple[str, ...]] = []
        if command.words:
            for item in _unwrap(command.words, depth):
                if isinstance(item, str):
                    if depth < _MAX_PAYLOAD_DEPTH:
                        _collect(item, depth + 1, forms, paths)
                else:
                    command_forms.append(item)
        forms.extend(command_forms)
        _paths_of(command, command_forms, paths)
    return parsed


@lru_cache(maxsize=4096)
def analyse(command: str) -> BashAnalysis:
    """Analyse a command line once; the result is cached because every Bash rule asks about the same line."""
    forms: list[tuple[str, ...]] = []
    paths = _Paths([], [], [])
    parsed = _collect(command, 0, forms, paths)
    if "IFS" in command:  # `rm${IFS}-rf${IFS}x` splits at the expansions
        _collect(command.replace("${IFS}", " ").replace("$IFS", " "), 1, forms, paths)
    error = parsed.error
    allow_forms: list[tuple[str, ...]] | None = None
    if error is None and not parsed.opaque and parsed.commands:
        allow_forms = []
        for simple in parsed.commands:
            words = _strip_safe(list(simple.words))
            if (
                not words
                or simple.opaque
                or _hides_command(tuple(words))
                or any(r.writes_file for r in simple.redirects)
            ):
                allow_forms = None
                break
            allow_forms.append(tuple(words))
    return BashAnalysis(
        allow_forms=None if allow_forms is None else tuple(allow_forms),
        allow_texts=tuple(c.text for c in parsed.commands),
        deny_forms=tuple(dict.fromkeys(forms)),
        read_paths=tuple(dict.fromkeys(paths.reads)),
        write_paths=tuple(dict.fromkeys(paths.writes)),
        cd_targets=tuple(dict.fromkeys(paths.dirs)),
        parse_error=error,
    )
