"""What a Bash command really runs, in the forms allow and deny rules are matched against.

Allow and deny need different answers, because failing closed means opposite things for them:

- An **allow** must cover every top-level command of the line on its own, after the harmless wrappers the CLI
  strips (`timeout`, `nice`, `nohup`, `time`, `stdbuf`, `command`, `xargs`), read by their real grammar.
  Only a line that is understood whole can be covered: simple commands whose every word is a literal after
  quote removal. A line that hides a command (`$( )`, backticks, process substitution, groups, control
  keywords, `bash -c`, `eval`, `find -exec`, `npx`, `source`), computes a word (`$x`, `${x:-y}`), sets
  variables (`env X=1`, `X=1 cmd`), redirects output to a file, or does not parse, is never covered by any
  allow: it falls through to ask, or to the policy's default.
- A **deny** is searched in every command anywhere in the line, in every form it could take: behind wrappers
  (by each one's option grammar, `_bash_wrappers`) and `sudo`, behind `env` and assignments, as `/usr/bin/x`
  or `\\x`, after brace expansion (`{r,}m`), inside substitutions, and inside the strings run by `bash -c`,
  `eval`, `find -exec`, `npx`, `xargs`, `watch`, `script -c` and `env -S`.
- Where bash may run something the analysis cannot name (a computed command name, a glob in the command's
  place, a shell reading commands from stdin, `case`, `coproc`, functions, `trap`, `alias`, nesting past the
  depth limit, a line that does not parse), the line is **hidden**: every deny and ask rule about Bash
  commands and the files they touch applies to it, and no allow but the bare `Bash` covers it.

Read and Edit rules also gate the files a command touches, so the analysis lists the words that may be paths,
the folders a command writes beneath, and whether some file it reads or writes cannot be named at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from magistrate.broker._bash_braces import expand as expand_braces
from magistrate.broker._bash_lexer import UNQUOTED_BRACES, Parsed, SimpleCommand, parse
from magistrate.broker._bash_wrappers import RUNS_UNSEEN, SHELLS, WRAPPERS, read_shell, read_wrapper

_SAFE_WRAPPERS = frozenset({"timeout", "nice", "nohup", "time", "stdbuf", "command", "xargs"})
_OTHER_WRAPPERS = frozenset(WRAPPERS) - _SAFE_WRAPPERS | {"env", "busybox"}
_SHELLS = SHELLS | {"busybox", "su"}
_NPX = frozenset({"npx", "bunx", "pnpx"})
_HIDING = frozenset({"eval", "source", ".", "exec"})
_FIND_EXEC = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
_WRITERS = frozenset(
    {"touch", "cp", "mv", "rm", "tee", "mkdir", "rmdir", "ln", "chmod", "chown", "chgrp", "truncate", "install"}
    | {"dd", "rsync", "unlink", "shred", "patch", "scp", "mkfifo", "mknod", "sponge", "split", "csplit", "zip"}
    | {"gzip", "gunzip", "bzip2", "bunzip2", "xz", "unxz", "zstd", "unzstd", "lz4", "compress", "uncompress"}
    | {"setfacl", "chattr", "ar", "mktemp", "uniq", "cpio"}
)
_COMPRESSORS = {"gzip": ".gz", "gunzip": ".gz", "bzip2": ".bz2", "bunzip2": ".bz2", "xz": ".xz", "unxz": ".xz"}
_COMPRESSORS |= {"zstd": ".zst", "unzstd": ".zst", "lz4": ".lz4", "compress": ".Z", "uncompress": ".Z"}
_OUTPUT_OPTIONS = frozenset({"-o", "--output", "--output-file", "--outfile", "--out", "--output-document", "-O"})
"""Options whose value is a file written, whatever the program (`sort -o`, `gcc -o`, `wget -O`, `curl -o`)."""
_CURL_OUTPUTS = frozenset({"--dump-header", "-D", "--cookie-jar", "-c", "--trace", "--trace-ascii", "--stderr"})
_GIT_TREE_WRITERS = frozenset(
    {"checkout", "restore", "reset", "switch", "stash", "apply", "am", "merge", "pull", "rebase", "clean"}
    | {"cherry-pick", "revert", "worktree", "submodule", "clone", "init", "sparse-checkout", "read-tree"}
)
_RISKY_VARIABLES = frozenset(
    {"BASH_ENV", "ENV", "PROMPT_COMMAND", "PS0", "PS1", "PS2", "PS3", "PS4", "LD_PRELOAD", "LD_AUDIT", "IFS"}
    | {"SHELLOPTS", "BASHOPTS", "CDPATH", "HOME", "PWD", "OLDPWD", "BASH_XTRACEFD", "GLOBIGNORE", "BASH_LOADABLES_PATH"}
)
"""Variables whose value makes bash run code or resolve names differently (`BASH_ENV`, `PS4` with `set -x`)."""
_ASSIGNED = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*\s+)*([A-Za-z_][A-Za-z0-9_]*)(?:\[[^\]]*\])?\+?=")
_MAX_PAYLOAD_DEPTH = 8
_MAX_GUESSES = 32
_MAX_STEPS = 2048
_GROUP_AND_KEYWORDS = frozenset({"{", "}", "(", ")", "!", "if", "then", "else", "elif", "do", "while", "until"})
_COMPUTED = frozenset({"param", "subst", "glob"})
_EXPANDED = frozenset({"param", "subst"})
_NO_FLAGS: frozenset[str] = frozenset()
_COMPUTED_NAME = re.compile("[$`…]")
_SHELL_DECIDES = re.compile(r"[${*?\[`…]")
_STDIN_SOURCES = ("/dev/stdin", "/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/", "<(…)")


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
    """Words that may name files the line reads (arguments, `<` targets, `--opt=VALUE` values)."""
    write_paths: tuple[str, ...]
    """Words that name files the line may change (output redirections, arguments of `cp`, `rm`, `tee`, ...)."""
    cd_targets: tuple[str, ...] = ()
    """Folders the line moves into (`cd`, `pushd`, `git -C`, `env -C`), each relative to the ones before it."""
    parse_error: str | None = None
    hidden: str | None = None
    """Why bash may run a command the forms do not name: every Bash deny and ask then applies."""
    write_trees: tuple[str, ...] = ()
    """Folders beneath which the line writes files it does not name (`tar -x -C d`, `git checkout`)."""
    reads_unknown: bool = False
    """Some file the line reads cannot be named (`xargs cat`): every Read gate applies."""
    writes_unknown: bool = False
    """Some file the line writes cannot be named (`curl -O`, a computed redirection): every file gate applies."""


@dataclass(slots=True)
class _Sink:
    """What one line's analysis gathers: forms, strings to parse, paths, and what it could not follow."""

    forms: list[tuple[str, ...]] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    trees: list[str] = field(default_factory=list)
    hidden: str | None = None
    reads_unknown: bool = False
    writes_unknown: bool = False
    steps: int = 0
    """Wrapper readings tried so far; past `_MAX_STEPS` the line is refused rather than read further."""
    peeled: set[tuple[str, ...]] = field(default_factory=set)

    def hide(self, reason: str) -> None:
        if self.hidden is None:
            self.hidden = reason


def _is_assignment(word: str) -> bool:
    name, eq, _ = word.partition("=")
    return bool(eq) and name.rstrip("+").isidentifier()


def _skip_options(words: list[str], i: int, wrapper: str) -> int:
    """Where the command behind `wrapper` starts (kept for callers that only need an index)."""
    if wrapper in WRAPPERS:
        reading = read_wrapper(wrapper, words[i - 1 :])
        return i - 1 + reading.start if reading.kind == "command" else len(words)
    while i < len(words) and words[i].startswith("-") and words[i] != "-":
        if words[i] == "--":
            return i + 1
        i += 1
    return i


def _basename(word: str) -> str:
    return word.rsplit("/", 1)[-1] if "/" in word else word


def _shell_payload(words: list[str]) -> str | None:
    """The command string of `bash -c STRING` (also `-lc`, `-ec`, `su -c`), or None."""
    reading = read_wrapper("su", words) if _basename(words[0]) == "su" else read_shell(words)
    return reading.text if reading.kind == "string" else None


def _brace_words(
    words: list[str], flags: list[frozenset[str]], views: dict[int, str] | None = None
) -> tuple[list[str], list[frozenset[str]]] | None:
    """The words after brace expansion (only words with an unquoted `{`); None past the bound."""
    if not any(flags) or not any("brace" in f for f in flags):
        return words, flags
    out: list[str] = []
    out_flags: list[frozenset[str]] = []
    for i, (word, flag) in enumerate(zip(words, flags, strict=True)):
        view = (views or {}).get(i)
        expanded = expand_braces(word if view is None else view) if "brace" in flag else [word]
        if expanded is None:
            return None
        if view is not None:
            expanded = [w.translate(UNQUOTED_BRACES) for w in expanded]
        out.extend(expanded)
        out_flags.extend([flag] * len(expanded))
    return out, out_flags


def _flags_for(command: SimpleCommand) -> list[frozenset[str]]:
    flags = command.flags
    if len(flags) == len(command.words):
        return flags
    return [*flags, *[_NO_FLAGS] * (len(command.words) - len(flags))]


def _risky_assignment(words: list[str]) -> str | None:
    for word in words:
        if "=" not in word:
            continue
        match = _ASSIGNED.match(word)
        if match and (match.group(1) in _RISKY_VARIABLES or match.group(1).startswith("BASH_FUNC_")):
            return match.group(1)
    return None


def _peel(words: list[str], flags: list[frozenset[str]], depth: int, sink: _Sink) -> Iterator[str]:  # noqa: PLR0915
    """Record each form of a command in `sink`, wrappers peeled; yield the command strings it runs."""
    while words:
        sink.steps += 1
        if sink.steps > _MAX_STEPS:
            sink.hide("too many ways to read the line's wrappers")
            return
        key = tuple(words)
        if key in sink.peeled:
            return  # already read from here (guessing tries the same suffix many ways)
        sink.peeled.add(key)
        sink.forms.append(key)
        word0 = words[0]
        first = _basename(word0)
        if first != word0:
            sink.forms.append((first, *words[1:]))
        if (flags[0] and flags[0] & _COMPUTED) or _COMPUTED_NAME.search(word0):
            sink.hide(f"bash computes the command's name ({word0!r})")
            return
        if "{}" in word0:
            sink.hide("the command's name is filled in at run time ({})")
            return
        if first in _GROUP_AND_KEYWORDS:  # `timeout 5 { rm x; }`: a group word where a wrapper expects a command
            words, flags = words[1:], flags[1:]
            continue
        if _is_assignment(word0):
            i = 0
            while i < len(words) and _is_assignment(words[i]):
                i += 1
            words, flags = words[i:], flags[i:]
            continue
        if first in RUNS_UNSEEN:
            sink.hide(f"{first} runs commands by a grammar magistrate does not read")
            return
        if first == "hash" and any(w.startswith("-") and "p" in w for w in words[1:]):
            sink.hide("hash -p changes what a command name runs")
            return
        if first in {"complete", "compgen", "mapfile", "readarray"} and any(
            w.startswith("-") and ("C" in w or "F" in w) for w in words[1:]
        ):
            sink.hide(f"{first} runs a callback command")
            return
        if first == "env":
            start = _env(words, depth, sink)
            if start is None:
                return
            words, flags = words[start:], flags[start:]
            continue
        if first == "busybox":
            words, flags = words[1:], flags[1:]
            continue
        if first in WRAPPERS:
            reading = read_wrapper(first, words)
            if reading.kind == "none":
                return
            if reading.kind == "hidden":
                sink.hide(reading.text)
                return
            if reading.kind == "string":
                if first == "script":
                    sink.writes.append(next((w for w in words[1:] if not w.startswith("-")), "typescript"))
                yield reading.text
                return
            if first == "xargs":
                sink.reads_unknown = True  # its arguments come from stdin
                replace = _xargs_replace(words[: reading.start])
                if replace and reading.start < len(words) and replace in words[reading.start]:
                    sink.hide("xargs fills the command's name in from its input")
                    return
            if reading.kind == "guess":
                for k in range(reading.start, min(len(words), reading.start + _MAX_GUESSES)):
                    yield from _peel(words[k:], flags[k:], depth + 1, sink)
                return
            words, flags = words[reading.start :], flags[reading.start :]
            continue
        if first in _NPX:
            i = 1
            while i < len(words) and words[i].startswith("-"):
                if words[i] in {"-c", "--call"} and i + 1 < len(words):
                    yield words[i + 1]
                i += 2 if words[i] in {"-p", "--package", "-c", "--call"} else 1
            words, flags = words[i:], flags[i:]
            continue
        if first in SHELLS:
            reading = read_shell(words)
            if reading.kind == "hidden":
                sink.hide(reading.text)
            elif reading.kind == "string" and depth < _MAX_PAYLOAD_DEPTH:
                yield reading.text
            elif reading.kind == "string":
                sink.hide(f"command strings nested deeper than {_MAX_PAYLOAD_DEPTH} levels")
            return
        if first == "eval":
            yield " ".join(words[1:])
            return
        if first in {"source", "."}:
            if len(words) < 2 or words[1].startswith(_STDIN_SOURCES) or "…" in words[1]:
                sink.hide(f"{first} runs commands read from a stream")
            return
        if first == "find":
            for i, word in enumerate(words):
                if word in _FIND_EXEC:
                    end = next((j for j in range(i + 1, len(words)) if words[j] in {";", "+"}), len(words))
                    if i + 1 < end:
                        yield from _peel(words[i + 1 : end], flags[i + 1 : end], depth + 1, sink)
        return


def _env(words: list[str], depth: int, sink: _Sink) -> int | None:
    """Where the command behind `env` starts; None when env runs nothing. `-S` strings are parsed too."""
    i = 1
    while i < len(words):
        word = words[i]
        if word == "--":
            i += 1
            break
        if word == "-" or word in {"-i", "-0", "-v", "--ignore-environment", "--null", "--debug"}:
            i += 1
            continue
        if word in {"-u", "--unset", "-C", "--chdir"}:
            if word in {"-C", "--chdir"} and i + 1 < len(words):
                sink.dirs.append(words[i + 1])
            i += 2
            continue
        if word.startswith(("--unset=", "--chdir=")) or (word.startswith(("-u", "-C")) and len(word) > 2):
            if word.startswith(("--chdir=", "-C")):
                sink.dirs.append(word.partition("=")[2] if "=" in word else word[2:])
            i += 1
            continue
        if word in {"-S", "--split-string"} or word.startswith(("--split-string=", "-S")):
            if word in {"-S", "--split-string"}:
                string, rest = (words[i + 1] if i + 1 < len(words) else ""), words[i + 2 :]
            else:
                string, rest = (word.partition("=")[2] if "=" in word else word[2:]), words[i + 1 :]
            sink_string = " ".join([string, *rest])
            if depth < _MAX_PAYLOAD_DEPTH:
                _collect(sink_string, depth + 1, sink)
            else:
                sink.hide("env -S strings nested too deep")
            return None
        if word.startswith("-"):
            sink.hide(f"env option {word!r} is not one magistrate reads")
            return None
        if _is_assignment(word):
            i += 1
            continue
        break
    return i if i < len(words) else None


def _xargs_replace(words: list[str]) -> str | None:
    for i, word in enumerate(words):
        if word in {"-I", "--replace"} and i + 1 < len(words):
            return words[i + 1]
        if word.startswith("-I") and len(word) > 2:
            return word[2:]
        if word.startswith(("--replace=", "-i")):
            return word.partition("=")[2] or word[2:] or "{}"
    return None


def _hides_command(words: tuple[str, ...]) -> bool:
    if _SHELL_DECIDES.search(words[0]):  # the shell decides what runs: expansion, braces, globs
        return True
    first = _basename(words[0])
    if first in _HIDING or first in _NPX or first in _OTHER_WRAPPERS or _is_assignment(words[0]):
        return True
    if first in RUNS_UNSEEN or first in SHELLS:
        return first not in SHELLS or read_shell(list(words)).kind != "none"
    return first == "find" and any(w in _FIND_EXEC for w in words)


def _strip_safe(words: list[str]) -> list[str]:
    """The command behind the wrappers the CLI strips for allow rules; empty when one is not understood."""
    while words and words[0] in _SAFE_WRAPPERS:
        reading = read_wrapper(words[0], words)
        if reading.kind != "command":
            return []
        words = words[reading.start :]
    return words


def _option_values(args: list[str]) -> list[tuple[str, str]]:
    """(option, value) for every `--opt=value`, `-oVALUE`, and `-o VALUE` / `--opt VALUE` pair."""
    out: list[tuple[str, str]] = []
    last = len(args) - 1
    for i, arg in enumerate(args):
        if arg[:1] != "-":
            continue
        if "=" in arg:
            if arg[:2] == "--":
                option, _, value = arg.partition("=")
                out.append((option, value))
            elif len(arg) > 2:
                out.append((arg[:2], arg[2:]))
            continue
        if arg[:2] != "--" and len(arg) > 2:
            out.append((arg[:2], arg[2:]))
        if i < last:
            out.append((arg, args[i + 1]))
    return out


def _paths_of(command: SimpleCommand, forms: list[tuple[str, ...]], sink: _Sink) -> None:
    for redirect in command.redirects:
        if "<<" in redirect.op or (redirect.op.endswith("&") and (redirect.target.isdigit() or redirect.target == "-")):
            continue
        if any(c in redirect.target for c in "$`…") and redirect.writes_file:
            sink.writes_unknown = True
        (sink.writes if redirect.writes_file else sink.reads).append(redirect.target)
        if redirect.op == "<>":
            sink.writes.append(redirect.target)
    for form in forms:
        first = _basename(form[0])
        args = list(form[1:])
        operands = [w.partition("=")[2] if "=" in w else w for w in args] if first == "dd" else args
        operands = [w for w in operands if w and not w.startswith("-")]
        values = _option_values(args)
        sink.reads.extend(operands)
        if values:  # most commands have few options: no generators for none
            sink.reads.extend(v for o, v in values if v and o.startswith("--"))
            sink.reads.extend(v for o, v in values if v and not o.startswith("--") and "/" in v)
            outputs = _OUTPUT_OPTIONS | _CURL_OUTPUTS if first == "curl" else _OUTPUT_OPTIONS
            sink.writes.extend(v for o, v in values if o in outputs and v and v != "-")
        if first in {"cd", "pushd"}:  # later relative paths may be relative to here
            sink.dirs.append(operands[0] if operands else "~")
        elif first == "git":
            _git_paths(args, sink)
        elif first in _WRITERS or (first in {"sed", "perl", "ruby"} and _in_place(args)):
            sink.writes.extend(operands)
            sink.writes.extend(v for o, v in values if v)
            suffix = _COMPRESSORS.get(first)
            if suffix:
                sink.writes.extend(w[: -len(suffix)] if w.endswith(suffix) else w + suffix for w in operands)
            if first in {"patch", "split", "csplit"} and not any(o in {"-o", "--output"} for o, _ in values):
                sink.writes_unknown = True  # patch writes the files its diff names; split derives its names
        elif first == "tar":
            _tar_paths(args, sink)
        elif first == "unzip" and not any(a in {"-l", "-t", "-v", "-p", "-Z", "-z"} for a in args):
            target = next((v for o, v in values if o == "-d"), ".")
            sink.trees.append(target)
        elif first == "find" and any(a in {"-delete", "-fprint", "-fprint0", "-fprintf", "-fls"} for a in args):
            starts = [a for a in args if not a.startswith(("-", "(", "!", ")"))][:1] or ["."]
            sink.trees.extend(starts)
        elif first == "wget" and not any(o in {"-O", "--output-document"} for o, _ in values):
            if not any(a in {"--spider", "-S"} for a in args):
                sink.trees.append(next((v for o, v in values if o in {"-P", "--directory-prefix"}), "."))
        elif first == "curl" and any(a in {"-O", "--remote-name", "--remote-name-all", "-J"} for a in args):
            sink.trees.append(next((v for o, v in values if o == "--output-dir"), "."))
        elif first == "awk" and any(a == "inplace" or a.endswith("inplace") for a in args):
            sink.writes.extend(operands)


def _in_place(args: list[str]) -> bool:
    for arg in args:
        if arg.startswith("--in-place") or arg in {"-i", "--inplace"}:
            return True
        if arg.startswith("-") and not arg.startswith("--") and "i" in arg[1:]:
            return True
    return False


def _git_paths(args: list[str], sink: _Sink) -> None:
    i = 0
    while i < len(args) and args[i].startswith("-"):
        if args[i] in {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path"} and i + 1 < len(args):
            if args[i] in {"-C", "--work-tree"}:
                sink.dirs.append(args[i + 1])
            i += 2
            continue
        if args[i].startswith(("--work-tree=", "--git-dir=")):
            sink.dirs.append(args[i].partition("=")[2])
        i += 1
    if i >= len(args):
        return
    sub, rest = args[i], args[i + 1 :]
    operands = [a for a in rest if not a.startswith("-")]
    if sub in {"rm", "mv"}:
        sink.writes.extend(operands)
    elif (sub, tuple(operands[:1])) in {("submodule", ("foreach",)), ("bisect", ("run",))} or (
        sub == "rebase" and any(a in {"-x", "--exec"} or a.startswith("--exec=") for a in rest)
    ):
        sink.hide(f"git {sub} runs a command string")
    elif sub in {"stash", "worktree", "submodule"} and operands[:1] in (["list"], ["show"], ["status"]):
        return
    elif sub in {"checkout", "switch"} and any(a in {"-b", "-B", "-c", "-C"} for a in rest) and len(operands) <= 1:
        return  # a new branch where HEAD is: the working tree stays as it is
    elif sub == "reset" and not any(a in {"--hard", "--merge", "--keep"} for a in rest):
        return  # moves HEAD and the index, never the files
    elif sub in _GIT_TREE_WRITERS:
        sink.trees.append(".")


def _tar_paths(args: list[str], sink: _Sink) -> None:
    mode_letters = args[0].lstrip("-") if args and not args[0].startswith("--") else ""
    letters = set(mode_letters) | {c for a in args if a.startswith("-") and not a.startswith("--") for c in a[1:]}
    longs = {a.partition("=")[0] for a in args if a.startswith("--")}
    extract = "x" in letters or bool(longs & {"--extract", "--get"})
    folder = "."
    for i, arg in enumerate(args):
        if arg in {"-C", "--directory"} and i + 1 < len(args):
            folder = args[i + 1]
        elif arg.startswith("--directory="):
            folder = arg.partition("=")[2]
        if arg in {"-f", "--file"} and i + 1 < len(args) and not extract:
            sink.writes.append(args[i + 1])
        elif arg.startswith("--file=") and not extract:
            sink.writes.append(arg.partition("=")[2])
    if not extract and mode_letters and "f" in mode_letters and "c" in letters:
        names = [a for a in args[1:] if not a.startswith("-")]
        sink.writes.extend(names[:1])
    if extract:
        sink.trees.append(folder)
        sink.dirs.append(folder)


def _collect(text: str, depth: int, sink: _Sink) -> Parsed:
    parsed = parse(text)
    if parsed.hidden:
        sink.hide(parsed.hidden)
    for command in [*parsed.commands, *parsed.nested]:
        command_start = len(sink.forms)
        if command.words:
            flags = _flags_for(command)
            sink.steps = 0  # the budget is per command: a long line of plain commands is no harder to read
            risky = _risky_assignment(command.words)
            if risky is not None:
                sink.hide(f"it sets {risky}, which changes what bash runs")
            expanded = _brace_words(list(command.words), flags, command.brace_views)
            if expanded is None:
                sink.hide("a brace expansion too large to follow")
                expanded = (list(command.words), flags)
            elif expanded[0] != command.words:
                sink.forms.append(tuple(command.words))
            for payload in _peel(expanded[0], expanded[1], depth, sink):
                if depth < _MAX_PAYLOAD_DEPTH:
                    _collect(payload, depth + 1, sink)
                else:
                    sink.hide(f"command strings nested deeper than {_MAX_PAYLOAD_DEPTH} levels")
        _paths_of(command, sink.forms[command_start:], sink)
    return parsed


def _allow_forms(parsed: Parsed) -> list[tuple[str, ...]] | None:
    if parsed.error is not None or parsed.opaque or not parsed.commands:
        return None
    forms: list[tuple[str, ...]] = []
    for simple in parsed.commands:
        flags = _flags_for(simple)
        if simple.opaque or (any(flags) and any(f & _EXPANDED for f in flags)):
            return None
        expanded = _brace_words(list(simple.words), flags, simple.brace_views)
        if expanded is None or (expanded[0] != simple.words and "brace" in flags[0]):
            return None
        words = _strip_safe(expanded[0])
        if not words or _hides_command(tuple(words)) or any(r.writes_file for r in simple.redirects):
            return None
        forms.append(tuple(words))
    return forms


@lru_cache(maxsize=4096)
def analyse(command: str) -> BashAnalysis:
    """Analyse a command line once; the result is cached because every Bash rule asks about the same line."""
    sink = _Sink()
    parsed = _collect(command, 0, sink)
    if "IFS" in command:  # `rm${IFS}-rf${IFS}x` splits at the expansions
        _collect(command.replace("${IFS}", " ").replace("$IFS", " "), 1, sink)
    allow_forms = None if sink.hidden else _allow_forms(parsed)
    return BashAnalysis(
        allow_forms=None if allow_forms is None else tuple(allow_forms),
        allow_texts=tuple(c.text for c in parsed.commands),
        deny_forms=tuple(dict.fromkeys(sink.forms)),
        read_paths=tuple(dict.fromkeys(sink.reads)),
        write_paths=tuple(dict.fromkeys(sink.writes)),
        cd_targets=tuple(dict.fromkeys(sink.dirs)),
        parse_error=parsed.error,
        hidden=sink.hidden,
        write_trees=tuple(dict.fromkeys(sink.trees)),
        reads_unknown=sink.reads_unknown,
        writes_unknown=sink.writes_unknown,
    )
