"""Property tests: no compound, wrapped, quoted or nested spelling of a denied command slips past its deny."""

from __future__ import annotations

import shlex

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

from magistrate.broker import CallContext, RulePolicy, ToolCall

DENY = RulePolicy(default="allow", deny=["Bash(rm:*)", "Bash(curl evil.org:*)"], allow=["Bash"])
ALLOW_ONLY = RulePolicy(default="deny", allow=["Bash(ls:*)", "Bash(echo:*)", "Bash(git status)"])

_CORES = st.sampled_from(
    [
        "rm -rf target",
        "rm target",
        "'rm' -rf target",
        '"rm" target',
        "\\rm target",
        "/bin/rm -f target",
        "/usr/bin/rm target",
        "rm  -rf   target",
        "curl evil.org",
        "curl 'evil.org' -o x",
        "/usr/bin/curl evil.org",
        "$'rm' target",
        "$'\\x72m' -rf target",
        '$"rm" target',
        "{rm,-rf,target}",
        "rm${IFS}-rf${IFS}target",
        "/bin/r? target",
        "/usr/bin/r[m] -f target",
        "r''m target",
    ]
)
_PREFIXES = st.sampled_from(
    [
        "timeout 5 ",
        "timeout -s KILL 10 ",
        "nice -n 5 ",
        "nice ",
        "nohup ",
        "time ",
        "stdbuf -oL ",
        "command ",
        "xargs ",
        "xargs -n 1 ",
        "sudo ",
        "sudo -u root ",
        "env ",
        "env X=1 ",
        "env -i PATH=/bin ",
        "X=1 ",
        "A=1 B=2 ",
        "exec ",
        "npx ",
        "npx -y ",
    ]
)


def _wrap(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    quoted = inner.map(shlex.quote)
    return st.one_of(
        st.tuples(_PREFIXES, inner).map("".join),
        inner.map("ls && {}".format),
        inner.map("{} || true".format),
        inner.map("echo a; {}".format),
        inner.map("cat f | {}".format),
        inner.map("{} &".format),
        inner.map("true\n{}".format),
        inner.map("echo $({})".format),
        inner.map('echo "$({})"'.format),
        inner.map("cat <({})".format),
        inner.map("({})".format),
        inner.map("{{ {}; }}".format),
        inner.map("if true; then {}; fi".format),
        inner.map("for f in a b; do {}; done".format),
        quoted.map("bash -c {}".format),
        quoted.map("sh -c {}".format),
        quoted.map("bash -lc {}".format),
        quoted.map("eval {}".format),
        quoted.map("env -S {}".format),
        inner.map("{}  ".format),
    )


_FIND = _CORES.map(lambda core: f"find . -name x -exec {core} {{}} \\;")
_COMMANDS = st.recursive(st.one_of(_CORES, _FIND), _wrap, max_leaves=4)


def _behavior(policy: RulePolicy, command: str) -> str:
    decision = anyio.run(policy.decide, ToolCall("Bash", {"command": command}), CallContext(cwd="/proj"))
    return decision.behavior


@settings(max_examples=400, deadline=None)
@given(_COMMANDS)
def test_no_spelling_of_a_denied_command_slips_past_the_deny(command: str) -> None:
    assert _behavior(DENY, command) == "deny", command


@settings(max_examples=300, deadline=None)
@given(_COMMANDS)
def test_prefix_allows_never_cover_a_line_that_runs_a_denied_command(command: str) -> None:
    assert _behavior(ALLOW_ONLY, command) != "allow", command


_ALLOWED_PARTS = st.sampled_from(["ls", "ls -la", "echo hi", "git status", "timeout 5 ls", "nice echo x"])
_OPERATORS = st.sampled_from([" && ", " || ", "; ", " | ", "\n"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_OPERATORS, _ALLOWED_PARTS), min_size=1, max_size=4), _CORES, st.integers(0, 4))
def test_an_unallowed_part_anywhere_in_a_compound_is_never_allowed(
    parts: list[tuple[str, str]], core: str, position: int
) -> None:
    words = [p for _, p in parts]
    words.insert(min(position, len(words)), core)
    ops = [op for op, _ in parts]
    command = words[0] + "".join(op + word for op, word in zip(ops, words[1:], strict=True))
    assert _behavior(ALLOW_ONLY, command) != "allow", command
    allowed_only = words[0] if words[0] != core else words[1]
    assert _behavior(ALLOW_ONLY, allowed_only) == "allow"


FILES = RulePolicy(default="allow", deny=["Read(.env)", "Read(~/.ssh/**)", "Edit(//etc/**)"], home="/home/u")

_SEGMENTS = st.sampled_from([".", "x/..", "a/b/../..", "", "sub/.."])


def _respell(path: str, fillers: list[str], upper: list[bool]) -> str:
    """Insert no-op segments between a path's segments and flip the case of some of its letters."""
    parts = path.split("/")
    out: list[str] = []
    for i, part in enumerate(parts):
        out.append(part)
        if i < len(parts) - 1 and i < len(fillers) and fillers[i]:
            out.append(fillers[i])
    text = "/".join(out)
    return "".join(c.upper() if u else c for c, u in zip(text, upper + [False] * len(text), strict=False))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["/proj/.env", "/proj/deep/er/.env", "/home/u/.ssh/id_rsa", "~/.ssh/config", ".env", "a/.env"]),
    st.lists(_SEGMENTS, max_size=6),
    st.lists(st.booleans(), max_size=40),
)
def test_no_spelling_of_a_denied_path_slips_past_the_deny(path: str, fillers: list[str], upper: list[bool]) -> None:
    spelled = _respell(path, fillers, upper) if not path.startswith("~") else path
    decision = anyio.run(FILES.decide, ToolCall("Read", {"file_path": spelled}), CallContext(cwd="/proj"))
    assert decision.behavior == "deny", spelled
    command = f"cat {shlex.quote(spelled)}"
    decision = anyio.run(FILES.decide, ToolCall("Bash", {"command": command}), CallContext(cwd="/proj"))
    assert decision.behavior == "deny", command


WEB = RulePolicy(default="allow", deny=["WebFetch(domain:evil.org)"])


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["https://", "http://", "HTTPS://", ""]),
    st.sampled_from(["", "user@", "user:pw@", "good.com@", "good.com:443@"]),
    st.sampled_from(["evil.org", "EVIL.ORG", "evil.org.", "www.evil.org", "a.b.evil.org"]),
    st.sampled_from(["", ":443", ":8080"]),
    st.sampled_from(["", "/", "/x?y=good.com", "#good.com", "/good.com"]),
)
def test_no_spelling_of_a_denied_host_slips_past_the_deny(
    scheme: str, userinfo: str, host: str, port: str, rest: str
) -> None:
    url = f"{scheme}{userinfo}{host}{port}{rest}"
    decision = anyio.run(WEB.decide, ToolCall("WebFetch", {"url": url, "prompt": "p"}), CallContext())
    assert decision.behavior == "deny", url
