"""A small shell lexer, so Bash rules are matched against the commands a shell would really run.

Matching a rule against the raw text is what lets `git status && rm -rf ~` through a `git status` allow, or
`cat "$(cat ~/.ssh/id_rsa)"` past a `cat ~/.ssh` deny. The lexer splits a command line into simple commands
at `&&`, `||`, `;`, `|`, `&` and newlines, removes quotes and backslashes as the shell would, separates
redirections, and pulls out every command hidden inside `$( )`, backticks, process substitution, groups and
unquoted here-documents, so each can be judged on its own. It is deliberately not a full shell parser: anything
it does not understand marks the command *opaque*, which no allow covers and every deny still searches.

What the lexer cannot follow at all (a `case` or `coproc`, a function definition, a here-document whose end
it cannot place exactly as bash does, nesting past the depth limit, a line that does not parse) sets `hidden`:
bash may run a command the lexer never saw there, so every deny rule applies to the line.
Each word also carries the expansions bash performs on it unquoted (`param`, `subst`, `glob`, `brace`,
`tilde`), so a command name that bash computes is told from one that is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_OPERATORS = ("&&", "||", ";;", "|&", ";", "|", "&", "\n")
_REDIRECT = re.compile(r"(\d*|&)(>>|>\||>&|>|<<<|<<-|<<|<&|<>|<)")
_KEYWORDS = frozenset({"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "!"})
_HIDING_KEYWORDS = frozenset({"case", "esac", "coproc", "select", "function", "[[", "]]", "in"})
"""Keywords whose grammar the lexer does not follow: what they run cannot be placed, so the line is hidden."""
QUOTED_BRACES = str.maketrans({"{": "\ue000", ",": "\ue001", "}": "\ue002", ".": "\ue003"})
"""Quoted brace characters, disguised for brace expansion; `UNQUOTED_BRACES` turns them back."""
UNQUOTED_BRACES = str.maketrans({"\ue000": "{", "\ue001": ",", "\ue002": "}", "\ue003": "."})
MAX_DEPTH = 16
"""Nesting of substitutions and groups the lexer follows; deeper is refused (hidden), never dropped."""
_PARAM_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_0123456789@*#?$!-{")
_CODE = re.compile(r"\$[({]|`")
"""Text that bash runs when it evaluates a string (arithmetic, `printf -v`, `[[ -v ]]`, a later expansion)."""
_GROUP_WORDS = frozenset({"{", "}"})
# Runs of characters that are never special inside a word, consumed at once (the lexer's hot path); a digit
# or `#` starting a word may begin a redirection or a comment, so those go through the slow path.
_PLAIN = re.compile(r"[A-Za-z0-9_./:@%+,=~^*?!\[\]{}#-]+")
_WORD_START_SPECIAL = frozenset("0123456789#")
# A line with none of these needs no state machine: split at operators, then at blanks.
_PLAIN_LINE = re.compile(r"[^\\'\"`$<>(){}#]*")
_SIMPLE_OPERATORS = re.compile(r"&&|\|\||;;|\|&|[;|&\n]")


@dataclass(frozen=True, slots=True)
class Redirect:
    """One redirection: the operator (`>`, `>>`, `<`, `2>`, `&>`, ...) and its target word."""

    op: str
    target: str

    @property
    def writes_file(self) -> bool:
        """True when the redirection may create or change a file (not a descriptor copy or /dev/null)."""
        if "<" in self.op and ">" not in self.op:
            return False
        if self.op.endswith("&") or self.op.endswith(">&"):
            return not self.target.isdigit() and self.target != "-"
        return self.target not in {"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty"}


@dataclass(slots=True)
class SimpleCommand:
    """Words of one command after quote removal, with its redirections apart."""

    words: list[str] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)
    opaque: bool = False
    """Set when the command's text hides something (substitution, group, control keyword)."""
    flags: list[frozenset[str]] = field(default_factory=list)
    """Per word, the expansions bash performs on it: `param`, `subst`, `glob`, `brace`, `tilde` (unquoted), and
    `quoted-code` when quoted text holds code bash runs if the string is ever evaluated (`'a[$(x)]'`)."""
    brace_views: dict[int, str] = field(default_factory=dict)
    """For a word with both quoted and unquoted braces: its text with the quoted ones disguised."""
    text: str = ""
    """The command's own source text, spaces around it removed (an exact rule compares against it)."""


@dataclass(slots=True)
class Parsed:
    """A command line split into its top-level simple commands, plus every command nested inside them."""

    commands: list[SimpleCommand] = field(default_factory=list)
    nested: list[SimpleCommand] = field(default_factory=list)
    """Commands found inside substitutions, groups and here-documents, to be searched by deny rules."""
    operators: list[str] = field(default_factory=list)
    """The operators between the top-level commands (`&&`, `|`, `;`, ...), in order."""
    opaque: bool = False
    error: str | None = None
    hidden: str | None = None
    """Why bash may run a command that is in neither list (then every deny applies); None when none can hide."""


_GLOB_OR_BRACE = re.compile(r"[*?\[{~]")


class _Lexer:
    def __init__(self, text: str, depth: int) -> None:
        self.text = text
        self.i = 0
        self.depth = depth
        self.out = Parsed()
        self.current = SimpleCommand()
        self.word: list[str] = []
        self.view: list[str] = []
        """The word with its quoted `{`, `,` and `}` disguised, so brace expansion leaves them alone."""
        self.in_word = False
        self.word_quoted = False
        self.flags: set[str] = set()
        self.command_start = 0
        self.pending_redirect: str | None = None
        self.heredocs: list[tuple[str, bool, bool]] = []

    # -- words and commands -------------------------------------------------------------------------
    def end_word(self) -> None:
        if not self.in_word:
            return
        value = "".join(self.word)
        view = "".join(self.view)
        self.word = []
        self.view = []
        self.in_word = False
        self.word_quoted, quoted = False, self.word_quoted
        flags, self.flags = frozenset(self.flags), set()
        if "quoted-code" in flags and _CODE.search(value):
            # Text that bash would run if the word is ever evaluated (`printf -v 'a[$(x)]'`, `[[ -v ... ]]`,
            # `declare`, arithmetic, a variable later expanded in one of those): searched as a command line.
            self.nest(value)
        if self.pending_redirect is not None:
            op = self.pending_redirect
            self.pending_redirect = None
            if op in {"<<", "<<-"}:
                self.heredocs.append((value, op.endswith("-"), quoted))
            self.current.redirects.append(Redirect(op, value))
            return
        if not self.current.words and not self.current.redirects and value in _HIDING_KEYWORDS and not quoted:
            self.hide(f"the shell keyword {value!r}")
        if not self.current.words and (value in _KEYWORDS or value in _GROUP_WORDS):
            self.current.opaque = True
            self.out.opaque = True
            return
        if value == "}" or (value in {"fi", "done", "esac"} and not self.current.words):
            self.current.opaque = True
            self.out.opaque = True
            return
        self.current.words.append(value)
        self.current.flags.append(flags)
        if "brace" in flags and view != value:
            self.current.brace_views[len(self.current.words) - 1] = view

    def add(self, text: str) -> None:
        self.word.append(text)
        self.view.append(text)

    def add_quoted(self, text: str) -> None:
        self.word.append(text)
        self.view.append(text.translate(QUOTED_BRACES))

    def hide(self, reason: str) -> None:
        self.current.opaque = True
        self.out.opaque = True
        if self.out.hidden is None:
            self.out.hidden = reason

    def end_command(self) -> None:
        self.end_word()
        if self.current.words or self.current.redirects:
            self.current.text = self.text[self.command_start : self.i].strip()
            self.out.commands.append(self.current)
        self.current = SimpleCommand()

    def nest(self, inner: str) -> None:
        """Parse the text of a substitution or group; its commands are searched by denies, never allowed."""
        self.current.opaque = True
        self.out.opaque = True
        if self.depth >= MAX_DEPTH:
            self.out.error = self.out.error or "nesting too deep"
            self.hide(f"nesting deeper than {MAX_DEPTH} levels")
            return
        if self.heredocs and "\n" in inner:
            self.hide("a here-document begins inside a nested command")
        sub = parse(inner, self.depth + 1)
        self.out.nested.extend(sub.commands)
        self.out.nested.extend(sub.nested)
        if sub.error and not self.out.error:
            self.out.error = sub.error
        if sub.hidden and not self.out.hidden:
            self.out.hidden = sub.hidden

    def take_until_close(self, start: int, open_c: str, close_c: str) -> str:
        """Return the text up to the matching `close_c`, skipping quoted parts; leaves `i` after it."""
        level = 1
        j = start
        text = self.text
        while j < len(text):
            c = text[j]
            if c == "\\":
                j += 2
                continue
            if c == "'":
                k = text.find("'", j + 1)
                if k < 0:
                    break
                j = k + 1
                continue
            if c == '"':
                j = _skip_double(text, j + 1)
                continue
            if c == open_c:
                level += 1
            elif c == close_c:
                level -= 1
                if level == 0:
                    self.i = j + 1
                    return text[start:j]
            j += 1
        self.out.error = f"unbalanced {open_c!r}"
        self.i = len(text)
        return text[start:]

    # -- the scan -----------------------------------------------------------------------------------
    def run(self) -> Parsed:  # noqa: PLR0915 - one state machine reads best in one place
        text = self.text
        n = len(text)
        while self.i < n:
            c = text[self.i]
            if self.in_word or c not in _WORD_START_SPECIAL:
                plain = _PLAIN.match(text, self.i)
                if plain is not None:
                    chunk = plain.group()
                    if _GLOB_OR_BRACE.search(chunk):
                        self.plain_flags(chunk)
                    self.add(chunk)
                    self.in_word = True
                    self.i = plain.end()
                    continue
            if c == "\\":
                if self.i + 1 < n and text[self.i + 1] == "\n":
                    self.i += 2
                    continue
                self.in_word = True
                self.word_quoted = True
                if self.i + 1 < n:
                    self.add_quoted(text[self.i + 1])
                    if text[self.i + 1] in "$`":
                        self.flags.add("quoted-code")
                self.i += 2
                continue
            if c == "'":
                k = text.find("'", self.i + 1)
                if k < 0:
                    self.out.error = "unterminated single quote"
                    self.add_quoted(text[self.i + 1 :])
                    self.in_word = True
                    self.i = n
                    break
                self.add_quoted(text[self.i + 1 : k])
                if _CODE.search(text, self.i + 1, k):
                    self.flags.add("quoted-code")
                self.in_word = True
                self.word_quoted = True
                self.i = k + 1
                continue
            if c == '"':
                self.double_quoted()
                continue
            if c == "`":
                k = self.i + 1
                while k < n and text[k] != "`":
                    k += 2 if text[k] == "\\" else 1
                if k >= n:
                    self.out.error = "unterminated backtick"
                self.nest(text[self.i + 1 : k])
                self.flags.add("subst")
                self.add("`…`")
                self.in_word = True
                self.i = k + 1
                continue
            if c == "$" and text.startswith("$'", self.i):
                k = self.i + 2
                while k < n and text[k] != "'":
                    k += 2 if text[k] == "\\" else 1
                if k >= n:
                    self.out.error = "unterminated $'...' quote"
                decoded = _ansi_c(text[self.i + 2 : k])
                if _CODE.search(decoded):
                    self.flags.add("quoted-code")
                self.add_quoted(decoded)
                self.in_word = True
                self.word_quoted = True
                self.i = k + 1
                continue
            if c == "$" and text.startswith('$"', self.i):
                self.i += 1  # a locale-translated string reads as a plain double-quoted one
                continue
            if c == "$" and text.startswith("$(", self.i):
                self.i += 2
                inner = self.take_until_close(self.i, "(", ")")
                self.nest(inner)
                self.flags.add("subst")
                self.add("$(…)")
                self.in_word = True
                continue
            if c == "$" and text.startswith("${", self.i):
                start = self.i
                self.take_until_close(self.i + 2, "{", "}")
                chunk = text[start : self.i]
                if "$(" in chunk or "`" in chunk:
                    self.nest(chunk[2:-1])
                self.flags.add("param")
                self.add(chunk)
                self.in_word = True
                continue
            if c in "<>" and text.startswith("(", self.i + 1) and not self.in_word:
                self.i += 2
                self.nest(self.take_until_close(self.i, "(", ")"))
                self.flags.add("subst")
                self.add("<(…)")
                self.in_word = True
                continue
            if c == "(" and (self.in_word or self.current.words):
                self.hide("a function definition or a '(' where bash expects a word")  # `f() { ...; }`
            if c == "(":
                self.end_word()
                self.i += 1
                self.nest(self.take_until_close(self.i, "(", ")"))
                continue
            if c == "#" and not self.in_word:
                k = text.find("\n", self.i)
                self.i = n if k < 0 else k
                continue
            if c in " \t":
                self.end_word()
                self.i += 1
                continue
            m = _REDIRECT.match(text, self.i) if c in "<>" or (c in "&0123456789" and not self.in_word) else None
            if m:
                self.end_word()
                self.pending_redirect = m.group(0)
                self.i = m.end()
                continue
            op = next((o for o in _OPERATORS if text.startswith(o, self.i)), None) if c in "&|;\n" else None
            if op is not None:
                self.end_command()
                self.out.operators.append(op)
                self.i += len(op)
                if op == "\n" and self.heredocs:
                    self.skip_heredocs()
                self.command_start = self.i
                continue
            if c == "$" and self.i + 1 < n and text[self.i + 1] in _PARAM_START:
                self.flags.add("param")
            self.add(c)
            self.in_word = True
            self.i += 1
        self.end_command()
        if self.pending_redirect is not None:
            self.out.error = self.out.error or "redirection without a target"
        if self.heredocs:
            self.skip_heredocs()  # the line ends inside a here-document's first line: bash reads to the end
        if self.out.error and not self.out.hidden:
            self.out.hidden = f"the line does not parse ({self.out.error})"
        return self.out

    def plain_flags(self, chunk: str) -> None:
        """The expansions an unquoted run of plain characters undergoes."""
        if any(c in chunk for c in "*?["):
            self.flags.add("glob")
        if "{" in chunk:
            self.flags.add("brace")
        if chunk.startswith("~") and not self.word:
            self.flags.add("tilde")

    def double_quoted(self) -> None:
        text = self.text
        j = self.i + 1
        self.in_word = True
        self.word_quoted = True
        while j < len(text) and text[j] != '"':
            c = text[j]
            if c == "\\" and j + 1 < len(text) and text[j + 1] in '"\\$`\n':
                if text[j + 1] in "$`":
                    self.flags.add("quoted-code")
                if text[j + 1] != "\n":  # a backslash-newline inside double quotes joins the lines
                    self.add_quoted(text[j + 1])
                j += 2
                continue
            if c == "$" and j + 1 < len(text) and text[j + 1] in _PARAM_START and text[j + 1] != "(":
                self.flags.add("param")
            if c == "`" or text.startswith("$(", j):
                self.flags.add("subst")
                if c == "`":
                    k = text.find("`", j + 1)
                    k = len(text) if k < 0 else k
                    self.nest(text[j + 1 : k])
                    j = k + 1
                else:
                    self.nest(self.take_until_close(j + 2, "(", ")"))
                    j = self.i
                self.add("$(…)")
                continue
            self.add_quoted(c)
            j += 1
        if j >= len(text):
            self.out.error = "unterminated double quote"
        self.i = j + 1

    def skip_heredocs(self) -> None:
        """Skip here-document bodies; an unquoted one with substitutions is searched like a command."""
        text = self.text
        for delimiter, strip_tabs, quoted in self.heredocs:
            body: list[str] = []
            while self.i < len(text):
                line = self.heredoc_line(strip_tabs=strip_tabs, quoted=quoted)
                if line == delimiter:
                    break
                body.append(line)
            joined = "\n".join(body)
            if not quoted and ("$(" in joined or "`" in joined):
                self.nest(joined)
        self.heredocs = []

    def heredoc_line(self, *, strip_tabs: bool, quoted: bool) -> str:
        """One line of a here-document as bash compares it with the delimiter.

        In an unquoted here-document a backslash before the newline joins the next line (`EO\\` then `F`
        reads as `EOF` and ends it); bash strips the leading tabs of `<<-` from each physical line.
        """
        text = self.text
        parts: list[str] = []
        while True:
            k = text.find("\n", self.i)
            line = text[self.i :] if k < 0 else text[self.i : k]
            self.i = len(text) if k < 0 else k + 1
            if strip_tabs:
                line = line.lstrip("\t")
            trailing = len(line) - len(line.rstrip("\\"))
            if quoted or k < 0 or trailing % 2 == 0:
                parts.append(line)
                return "".join(parts)
            parts.append(line[:-1])


_ANSI_C = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "v": "\v"}
_ANSI_C_CODE = re.compile(r"\\(x[0-9A-Fa-f]{1,2}|u[0-9A-Fa-f]{1,4}|U[0-9A-Fa-f]{1,8}|[0-7]{1,3}|c.|.)", re.DOTALL)


def _ansi_c(body: str) -> str:
    """Decode the body of a `$'...'` string as bash does (`$'\\x72m'` is `rm`)."""

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] in "xuU":
            return chr(int(code[1:], 16))
        if code[0].isdigit():
            return chr(int(code, 8) & 0xFF)
        if code[0] == "c" and len(code) == 2:
            return chr(ord(code[1]) & 0x1F)
        return _ANSI_C.get(code, code)

    return _ANSI_C_CODE.sub(one, body)


def _skip_double(text: str, j: int) -> int:
    while j < len(text) and text[j] != '"':
        j += 2 if text[j] == "\\" else 1
    return j + 1


_NO_FLAGS: frozenset[str] = frozenset()


def _plain_word_flags(word: str) -> frozenset[str]:
    if not _GLOB_OR_BRACE.search(word):
        return _NO_FLAGS
    found = {"glob"} if any(c in word for c in "*?[") else set()
    if word.startswith("~"):
        found.add("tilde")
    return frozenset(found)


def _parse_plain(text: str) -> Parsed | None:
    """The common case without quotes, escapes, expansions, redirections or groups: split, no state machine."""
    out = Parsed(operators=_SIMPLE_OPERATORS.findall(text))
    for chunk in _SIMPLE_OPERATORS.split(text):
        words = chunk.split()
        if not words:
            continue
        if words[0] in _KEYWORDS or words[0] in _GROUP_WORDS or words[0] in _HIDING_KEYWORDS:
            return None
        # A character class: a chunk without one has no word with one.
        flags = [_plain_word_flags(w) for w in words] if _GLOB_OR_BRACE.search(chunk) else [_NO_FLAGS] * len(words)
        out.commands.append(SimpleCommand(words=words, text=chunk.strip(), flags=flags))
    return out


def parse(text: str, depth: int = 0) -> Parsed:
    """Split a command line into simple commands; never raises (a problem is reported in `error`)."""
    if _PLAIN_LINE.fullmatch(text):
        plain = _parse_plain(text)
        if plain is not None:
            return plain
    return _Lexer(text, depth).run()
