"""File rules (`Read(...)`, `Edit(...)`) with Claude Code's anchoring, and the paths a call really touches.

A pattern's anchor follows the CLI: `//p` is absolute, `~/p` is under the home directory, `/p` is relative to
the rule's source (the project root for `.claude/settings.json`, the file's folder for a settings file given
by path, `~/.claude` for user settings), `./p` and `p/q` are relative to the working directory, and a
slash-free `p` matches at any depth. Globs are gitignore-like: `*` and `?` stay inside one path segment, `**`
crosses segments. Matching ignores case, and paths are compared after `~` expansion and `..` resolution.

Deny and ask follow the CLI's gitignore reading of one-segment patterns and fail closed beyond it: a pattern
of one segment, with or without `./` and a trailing `/` or `/**` (`.env`, `./.env`, `./src/**`, `*.key`),
names a file or folder of that name at any depth (the CLI denies `a/b/src/x` and `a/b/.env` for those), and
magistrate matches it anywhere on the filesystem, not only under the rule's root; a pattern naming a
directory covers everything beneath it; and a path is denied when either its own spelling or the file a
symlink points to matches. An allow must hold for both, and stays anchored.

`sensitive` names the files the CLI never lets an allow rule or `acceptEdits` write without asking (shell
start-up files, `.git`, `.claude`, editor and package-manager configuration); only `bypassPermissions` does.
"""

from __future__ import annotations

import itertools
import os
import posixpath
import re
import stat
from dataclasses import dataclass
from functools import lru_cache

_GLOB_CHARS = frozenset("*?[")


def _glob_to_regex(pattern: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("(?:/.*)?")  # `dir/**` also names the folder itself, for searches rooted there
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(c))
                i += 1
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
                i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


@dataclass(frozen=True, slots=True)
class PathPattern:
    """A compiled file rule specifier."""

    text: str
    base: str | None
    """Absolute folder the pattern is relative to; None for the call's working directory."""
    regex: re.Pattern[str]
    anywhere: bool
    """Match the pattern against any tail of the absolute path, wherever it is."""
    core: str = ""
    """The regex of the path below the base (or of any tail, for `anywhere`), for combined prefilters."""
    fold_base: bool = False
    """Ignore case in the base folder too (deny and ask); an allow's base is a real folder, compared exactly."""

    def absolute_regex(self, cwd: str) -> str | None:
        """A regex for the whole absolute path, or None when the pattern cannot say so (`..` in it)."""
        if ".." in self.text:
            return None
        if self.anywhere:
            return f"/(?:.*/)?(?i:{self.core})"
        base = self.base if self.base is not None else cwd
        if base == "/":
            return f"/(?i:{self.core})"
        optional = "?" if re.fullmatch(self.core, "") else ""
        escaped = f"(?i:{re.escape(base)})" if self.fold_base else re.escape(base)
        return f"{escaped}(?:/(?i:{self.core})){optional}"

    def matches(self, path: str, cwd: str) -> bool:
        """Does the absolute, normalised `path` match, for a call running in `cwd`?"""
        if self.anywhere:
            return self.regex.search(path) is not None
        base = self.base if self.base is not None else cwd
        if self.fold_base:
            path, base = path.lower(), base.lower()
        if path == base:
            rel = ""
        elif base == "/":
            rel = path[1:]
        elif path.startswith(base + "/"):
            rel = path[len(base) + 1 :]
        elif ".." in self.text:
            rel = posixpath.relpath(path, base)
        else:
            return False
        return self.regex.fullmatch(rel) is not None


def compile_path(spec: str, *, deny_side: bool, source_root: str, home: str) -> PathPattern:
    """Compile a file rule specifier; `deny_side` is True for deny and ask lists (wider, fail closed)."""
    body = spec
    base: str | None
    if body.startswith("//"):
        base, body = "/", body[2:]
    elif body == "~" or body.startswith("~/"):
        base, body = home, body[2:] or "**"
    elif body.startswith("/"):
        base, body = source_root, body[1:]
    elif body.startswith("./"):
        base, body = None, body[2:]
    else:
        base = None
    if body.endswith("/"):
        body += "**"
    body = posixpath.normpath(body) if body else "**"
    if body == ".":
        body = "**"
    anchored = spec.startswith(("/", "./", "~"))
    slash_free = "/" not in spec.rstrip("/") and not anchored
    # Checked against the CLI: `./src/**`, `./src/`, `./.env` and `./*.k` match at any depth, as `src/**` does.
    relative = not spec.startswith(("/", "~"))
    one_segment = relative and (body.count("/") == 0 or (body.count("/") == 1 and body.endswith("/**")))
    regex = _glob_to_regex(body)
    # A pattern naming a folder covers what is inside it; for allows only when the pattern says so (`/**`).
    tail = "(?:/.*)?" if deny_side else ""
    if deny_side and (slash_free or one_segment):
        core = f"{regex}{tail}"
        return PathPattern(
            spec, None, re.compile(f"(?:^|/){core}$", re.IGNORECASE), anywhere=True, core=core, fold_base=True
        )
    core = f"(?:.*/)?{regex}" if slash_free else f"{regex}{tail}"
    return PathPattern(spec, base, re.compile(core, re.IGNORECASE), anywhere=False, core=core, fold_base=deny_side)


def resolve(path: str, cwd: str, home: str, folders: dict[str, str] | None = None) -> tuple[str, ...]:
    """The spellings of a file a call names: lexical (with `~` and `..` resolved) and, if different, real.

    The real spelling is looked up on every decision, never kept across decisions: a symlink made a moment
    ago must count. `folders` may carry the real spellings of folders already looked up for this decision,
    so the many words of one Bash line cost one `lstat` each.
    """
    lexical = _lexical(path, cwd, home)
    raw = _expand_tilde(path, cwd, home)
    if not raw.startswith("/"):  # `posixpath.join(cwd, raw)`, without its generality on the hot path
        raw = (cwd + raw if cwd.endswith("/") else f"{cwd}/{raw}") if cwd else raw
    if "/.." in raw and not _PROC_SELF.match(raw):
        # The kernel resolves `link/..` through the link, not by dropping a segment: judge that file too.
        kernel = _realpath(raw)
        if kernel != lexical:
            real = _realpath(lexical) if folders is None else _realpath_in(lexical, folders)
            return tuple(dict.fromkeys((lexical, real, kernel)))
    real = _realpath(lexical) if folders is None else _realpath_in(lexical, folders)
    if real == lexical:
        return (lexical,)
    if lexical.startswith(cwd.rstrip("/") + "/") and real == os.path.realpath(cwd) + lexical[len(cwd.rstrip("/")) :]:
        return (lexical,)  # only the working directory itself sits behind a link (macOS /tmp): not an escape
    return (lexical, real)


_O_PATH = getattr(os, "O_PATH", 0)
_PROC_FD = "/proc/self/fd/"


def _realpath(lexical: str) -> str:
    """`os.path.realpath`, in three system calls on Linux whatever the depth (the kernel resolves the links).

    The file is opened with O_PATH (nothing is read) and its name read back from /proc; a file that does not
    exist yet is named through its folder. Anything unusual falls back to `os.path.realpath`.
    """
    if _O_PATH:
        head, _, name = lexical.rpartition("/")
        for target, rest in ((lexical, ""), (head or "/", name)):
            try:
                fd = os.open(target, _O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                found = os.readlink(f"{_PROC_FD}{fd}")  # noqa: PTH115 - str paths: this is the hot path
            except OSError:
                break
            finally:
                os.close(fd)
            if not found.startswith("/") or found.endswith(" (deleted)") or rest in {".", ".."}:
                break
            if not rest:
                return found
            joined = f"{found.rstrip('/')}/{rest}"
            return joined if not os.path.islink(joined) else os.path.realpath(joined)  # noqa: PTH114
    return os.path.realpath(lexical)


def _realpath_in(lexical: str, folders: dict[str, str]) -> str:
    head, _, name = lexical.rpartition("/")
    head = head or "/"
    real_head = folders.get(head)
    if real_head is None:
        real_head = folders[head] = _realpath(head)
    if not name or name in {".", ".."}:
        return _realpath(lexical)
    joined = f"{real_head.rstrip('/')}/{name}"
    try:  # `os.path.islink`, inline: one `lstat` for every word of every Bash line
        mode = os.lstat(joined).st_mode
    except (OSError, ValueError):
        return joined
    return os.path.realpath(joined) if stat.S_ISLNK(mode) else joined


_PROC_SELF = re.compile(r"^/+proc/+(?:self|thread-self)(?=/|$)")
_UNKNOWABLE = re.compile(
    r"^(?:~-|/+proc/+(?:self|thread-self|\d+)/+(?:fd|map_files)(?:/|$)|/+proc/+\d+/+(?:cwd|root)|/+dev/+fd/)"
)
_TILDE_USER = re.compile(r"^~([A-Za-z_][A-Za-z0-9_.-]*\$?)(?=/|$)")


def unknowable(path: str) -> bool:
    """Does `path` name a file only another process's state can tell (`~-`, `/proc/1/cwd`, `/dev/fd/3`)?

    Such a path is refused: a deny on any file applies to it, and no allow covers it.
    """
    return _UNKNOWABLE.match(path) is not None


def _expand_tilde(path: str, cwd: str, home: str) -> str:
    if path == "~" or path.startswith("~/"):
        return home + path[1:]
    if path == "~+" or path.startswith("~+/"):
        return cwd + path[2:]  # bash's $PWD: where the command runs, not where the broker does
    user = _TILDE_USER.match(path)
    if user is not None:
        try:
            import pwd

            return pwd.getpwnam(user.group(1)).pw_dir + path[user.end() :]
        except (ImportError, KeyError):
            return path  # bash leaves `~nobody` as written: a relative name
    return path


@lru_cache(maxsize=4096)
def _lexical(path: str, cwd: str, home: str) -> str:
    path = _expand_tilde(path, cwd, home)
    for var in ("$HOME", "${HOME}"):
        if path.startswith(var):
            path = home + path[len(var) :]
    for var in ("$PWD", "${PWD}"):
        if path.startswith(var):
            path = cwd + path[len(var) :]
    lexical = posixpath.normpath(path if path.startswith("/") else posixpath.join(cwd, path))
    if lexical.startswith("//"):
        lexical = "/" + lexical.lstrip("/")
    # `/proc/self` is the process that opens the file: the tool's, which runs in the call's folder.
    proc = _PROC_SELF.match(lexical)
    if proc is not None:
        rest = lexical[proc.end() :]
        if rest == "/cwd" or rest.startswith("/cwd/"):
            lexical = posixpath.normpath(cwd + rest[4:])
        elif rest == "/root" or rest.startswith("/root/"):
            lexical = "/" + posixpath.normpath(rest[5:] or "/").lstrip("/")
    return lexical


MAX_GLOB_ENTRIES = 4096
"""Directory entries one glob may look at; past that it is not expanded and the caller refuses it."""


def bounded_glob(pattern: str, *, max_entries: int = MAX_GLOB_ENTRIES, max_matches: int = 256) -> list[str] | None:
    """The paths an absolute shell glob names, as bash finds them; None when that takes more than the budget.

    Python's `glob` walks as far as a pattern reaches (`/*/*/*/*/*/*/x` visits the whole disk); a decision
    must not, so the walk counts every directory entry it reads and gives up past `max_entries`.
    """
    import fnmatch

    segments = pattern.split("/")
    current = ["/" if pattern.startswith("/") else "."]
    seen = 0
    for segment in segments[1:] if pattern.startswith("/") else segments:
        if not segment:
            continue
        if not _GLOB_CHARS & set(segment):
            current = [posixpath.join(c, segment) for c in current]
            continue
        matcher = re.compile(fnmatch.translate(segment))
        following: list[str] = []
        for folder in current:
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        seen += 1
                        if seen > max_entries:
                            return None
                        name = entry.name
                        if name.startswith(".") and not segment.startswith("."):
                            continue
                        if matcher.fullmatch(name):
                            following.append(posixpath.join(folder, name))
            except OSError:
                continue
        if len(following) > max_matches:
            return None
        current = following
        if not current:
            return []
    return [c for c in current if os.path.lexists(c)][:max_matches]


def literal_prefix(pattern: str) -> str:
    """The part of a glob before its first wildcard segment (`../x/*.py` -> `../x`): where a search starts."""
    kept: list[str] = []
    for segment in pattern.split("/"):
        if _GLOB_CHARS & set(segment):
            break
        kept.append(segment)
    return "/".join(kept) or "."


def inside(path: str, folders: tuple[str, ...]) -> bool:
    """Is the absolute `path` one of `folders` or beneath one of them?"""
    return any(path == f or path.startswith(f.rstrip("/") + "/") for f in folders)


# The CLI's list (2.1.330): writing these asks even under an allow rule or in acceptEdits, case-insensitively.
_SENSITIVE_NAMES = frozenset(
    {
        ".gitconfig", ".gitmodules", ".bashrc", ".bash_profile", ".zshrc", ".zprofile", ".profile", ".zshenv",
        ".zlogin", ".zlogout", ".bash_login", ".bash_aliases", ".bash_logout", ".envrc", ".ripgreprc", ".mcp.json",
        ".claude.json", ".npmrc", ".yarnrc", ".yarnrc.yml", ".pnp.cjs", ".pnp.loader.mjs", ".pnp.js",
        ".pnp.data.json", ".pnpmfile.cjs", "bunfig.toml", ".bunfig.toml", ".bazelrc", ".bazelversion",
        ".bazeliskrc", ".pre-commit-config.yaml", "lefthook.yml", ".lefthook.yml", "lefthook.yaml",
        ".lefthook.yaml", "gradle-wrapper.properties", "maven-wrapper.properties", ".devcontainer.json",
        "pyrightconfig.json",
    }
)  # fmt: skip
_SENSITIVE_FOLDERS = frozenset(
    {".git", ".vscode", ".idea", ".claude", ".husky", ".cargo", ".devcontainer", ".yarn", ".mvn"}
)


def sensitive(path: str) -> bool:
    """Is writing the absolute `path` something the CLI always asks about (outside `bypassPermissions`)?"""
    parts = path.lower().split("/")
    if parts[-1] in _SENSITIVE_NAMES or not _SENSITIVE_FOLDERS.isdisjoint(parts):
        return True
    return any(a == ".config" and b == "git" for a, b in itertools.pairwise(parts))
