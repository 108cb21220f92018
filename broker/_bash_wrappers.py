"""Programs that run another program, read by their real option grammar, so a deny sees what they run.

`timeout 5 curl x` runs curl; so do `chrt 1 curl`, `taskset -c 0 curl`, `flock /tmp/l curl`, `watch curl`,
`strace -o /dev/null curl`, `busybox curl` and `env -S 'curl x'`. Each wrapper's options are listed from its
manual: which take a value (separate or attached), how many operands come before the command (timeout's
duration, chrt's priority, flock's lock file), which options make it run nothing (`chrt -p`), which run a
shell of their own (`sudo -s`, `unshare` with no command), and which take a command *string* (`script -c`,
`su -c`, `watch`). An option a wrapper's table does not know makes the reading a guess: every later word is
then tried as the command (a deny still finds it), and no allow covers the line.

Programs that run commands by a grammar of their own that is not read here (`at`, `tmux`, `parallel`, ...)
are `RUNS_UNSEEN`: a line using one may run anything, so every deny applies to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Grammar:
    """How one wrapper reads its arguments."""

    flags: str = ""
    """Short options without a value."""
    values: str = ""
    """Short options that take a value, attached (`-n5`) or as the next word (`-n 5`)."""
    long_flags: frozenset[str] = frozenset()
    long_values: frozenset[str] = frozenset()
    """Long options that take a value, as `--opt=VALUE` or `--opt VALUE`."""
    operands: int = 0
    """Words between the options and the command: timeout's duration, chrt's priority, flock's file."""
    numeric: bool = False
    """`-5` is an option (nice's old form)."""
    stops: frozenset[str] = frozenset()
    """Options after which the wrapper runs no command (`chrt -p`, `command -v`)."""
    shell_when_bare: bool = False
    """With no command, the wrapper starts an interactive shell (`sudo -s`, `unshare`, `chroot DIR`)."""
    string_option: str = ""
    """A short option whose value is a command line for a shell (`script -c`, `su -c`, `flock -c`)."""
    long_string: frozenset[str] = frozenset()
    joined: bool = False
    """The command is the rest of the words joined into one shell string (`watch`, `sg GROUP cmd`)."""
    any_long: bool = False
    """`--opt=value` is read whole; a bare `--opt` may take the next word, so the reading becomes a guess."""
    guess: bool = False
    """The grammar is too loose to place the command (`faketime [-f FMT | TIME]`): every later word is tried."""


def _g(
    *,
    flags: str = "",
    values: str = "",
    long_flags: Iterable[str] = (),
    long_values: Iterable[str] = (),
    operands: int = 0,
    numeric: bool = False,
    stops: Iterable[str] = (),
    shell_when_bare: bool = False,
    string_option: str = "",
    long_string: Iterable[str] = (),
    joined: bool = False,
    any_long: bool = False,
    guess: bool = False,
) -> Grammar:
    return Grammar(
        flags=flags,
        values=values,
        long_flags=frozenset(long_flags),
        long_values=frozenset(long_values),
        operands=operands,
        numeric=numeric,
        stops=frozenset(stops),
        shell_when_bare=shell_when_bare,
        string_option=string_option,
        long_string=frozenset(long_string),
        joined=joined,
        any_long=any_long,
        guess=guess,
    )


WRAPPERS: dict[str, Grammar] = {
    "timeout": _g(
        flags="v",
        values="sk",
        long_flags={"--preserve-status", "--foreground", "--verbose"},
        long_values={"--signal", "--kill-after"},
        operands=1,
    ),
    "nice": _g(values="n", long_values={"--adjustment"}, numeric=True),
    "nohup": _g(),
    "stdbuf": _g(values="ioe", long_values={"--input", "--output", "--error"}),
    "time": _g(
        flags="pvqa",
        values="fo",
        long_flags={"--portability", "--verbose", "--quiet", "--append"},
        long_values={"--format", "--output"},
    ),
    "command": _g(flags="p", stops={"-v", "-V"}),
    "builtin": _g(),
    "exec": _g(flags="cl", values="a"),
    "setsid": _g(flags="cfw", long_flags={"--ctty", "--fork", "--wait"}),
    "ionice": _g(
        flags="tV",
        values="cn",
        long_flags={"--ignore"},
        long_values={"--class", "--classdata"},
        stops={"-p", "-P", "-u"},
    ),
    "chrt": _g(
        flags="abdefiormRv",
        values="TPD",
        long_flags={"--all-tasks", "--batch", "--deadline", "--fifo", "--idle", "--other", "--rr", "--reset-on-fork"}
        | {"--verbose", "--ext"},
        long_values={"--sched-runtime", "--sched-period", "--sched-deadline"},
        operands=1,
        stops={"-p", "--pid", "-m", "--max"},
    ),
    "taskset": _g(flags="ac", long_flags={"--all-tasks", "--cpu-list"}, operands=1, stops={"-p", "--pid"}),
    "numactl": _g(
        flags="alsSH",
        values="CNmipP",
        long_flags={"--all", "--localalloc", "--show", "--hardware"},
        long_values={"--physcpubind", "--cpunodebind", "--membind", "--interleave", "--preferred", "--preferred-many"},
    ),
    "flock": _g(
        flags="sxunoFeh",
        values="wEc",
        long_flags={"--shared", "--exclusive", "--unlock", "--nonblock", "--close", "--no-fork", "--verbose"},
        long_values={"--wait", "--timeout", "--conflict-exit-code"},
        operands=1,
        string_option="c",
        long_string={"--command"},
    ),
    "script": _g(
        flags="aefqkr",
        values="cEIOBTm",
        long_flags={"--append", "--return", "--flush", "--force", "--quiet", "--log-io", "--echo"},
        long_values={"--log-in", "--log-out", "--log-timing", "--logging-format", "--output-limit"},
        string_option="c",
        long_string={"--command"},
        shell_when_bare=True,
    ),
    "watch": _g(
        flags="bceghprtwx",
        values="dnq",
        long_flags={"--beep", "--color", "--no-color", "--errexit", "--chgexit", "--precise", "--no-title", "--exec"}
        | {"--no-wrap", "--no-rerun"},
        long_values={"--interval", "--differences", "--equexit"},
        joined=True,
    ),
    "strace": _g(
        flags="cCdDfFhiqrtTvVwxyzZkn",
        values="abeEIoOpPsSuUX",
        long_flags={"--summary-only", "--summary", "--follow-forks", "--output-separately", "--daemonize"},
        long_values={"--output", "--trace", "--signal", "--status", "--string-limit", "--user", "--env"},
        stops={"-p", "--attach"},
    ),
    "ltrace": _g(flags="bcCfhiLrStTV", values="aAeFlnopsuwDx", long_values={"--output", "--library"}),
    "unshare": _g(
        flags="imnpuUCTrfc",
        values="SGRwl",
        any_long=True,
        shell_when_bare=True,
    ),
    "nsenter": _g(flags="aimnpuUCTFrwW", values="tSGeZ", any_long=True, shell_when_bare=True),
    "chroot": _g(long_flags={"--skip-chdir"}, long_values={"--userspec", "--groups"}, operands=1, shell_when_bare=True),
    "sudo": _g(
        flags="AbEHiKkLlnPSsV",
        values="CDghpRrTUu",
        long_flags={"--askpass", "--background", "--preserve-env", "--set-home", "--non-interactive", "--stdin"}
        | {"--reset-timestamp", "--remove-timestamp"},
        long_values={"--close-from", "--chdir", "--group", "--host", "--prompt", "--chroot", "--role", "--type"}
        | {"--command-timeout", "--other-user", "--user"},
        shell_when_bare=True,
    ),
    "doas": _g(flags="Lns", values="uC", shell_when_bare=True),
    "pkexec": _g(long_flags={"--disable-internal-agent", "--keep-cwd"}, long_values={"--user"}, shell_when_bare=True),
    "runuser": _g(
        flags="lmpfP",
        values="ugGsw",
        long_flags={"--login", "--preserve-environment", "--pty"},
        long_values={"--user", "--group", "--supp-group", "--shell", "--whitelist-environment"},
        string_option="c",
        long_string={"--command", "--session-command"},
    ),
    "su": _g(
        flags="flmpP",
        values="gGsw",
        long_flags={"--login", "--preserve-environment", "--pty", "--fast"},
        long_values={"--group", "--supp-group", "--shell", "--whitelist-environment"},
        string_option="c",
        long_string={"--command", "--session-command"},
        operands=-1,
    ),
    "sg": _g(string_option="c", operands=1, joined=True),
    "fakeroot": _g(flags="uhv", values="lsib", long_values={"--lib", "--faked", "--fd-base"}, shell_when_bare=True),
    "eatmydata": _g(),
    "nocache": _g(flags="n", values="n"),
    "unbuffer": _g(flags="p"),
    "torsocks": _g(flags="diqh", values="uapP", long_flags={"--shell", "--isolate", "--quiet"}, shell_when_bare=True),
    "proxychains": _g(flags="q", values="f"),
    "proxychains4": _g(flags="q", values="f"),
    "firejail": _g(any_long=True, shell_when_bare=True),
    "valgrind": _g(flags="qv", any_long=True),
    "catchsegv": _g(),
    "xvfb-run": _g(flags="ah", values="nslfpew", any_long=True),
    "dbus-launch": _g(any_long=True),
    "sshpass": _g(flags="veh", values="pfdP"),
    "faketime": _g(flags="m", values="f", guess=True),
    "cpulimit": _g(flags="bfkiqrvz", values="lpec", any_long=True),
    "prlimit": _g(flags="", values="", any_long=True, stops={"-p", "--pid"}),
    "caffeinate": _g(flags="dimsu", values="tw"),
    "xargs": _g(
        flags="0rtpx",
        values="aEdILnPs",
        long_flags={"--null", "--no-run-if-empty", "--verbose", "--interactive", "--exit", "--open-tty"},
        long_values={"--arg-file", "--eof", "--delimiter", "--replace", "--max-lines", "--max-args", "--max-procs"}
        | {"--max-chars", "--process-slot-var"},
    ),
}

RUNS_UNSEEN = frozenset(
    {"at", "batch", "crontab", "tmux", "screen", "parallel", "expect", "systemd-run", "perf", "setpriv", "nix-shell"}
    | {"trap", "alias", "fc", "enable", "bind", "coproc", "xterm", "gdb", "lldb", "dtach", "nohup.exe", "ssh-agent"}
)
"""Programs and builtins that run commands by a grammar not read here, or define what a later word runs."""

SHELLS = frozenset({"bash", "sh", "zsh", "dash", "ksh", "mksh", "ash", "fish", "yash", "posh", "rbash", "lksh"})
_SHELL_VALUES = frozenset({"-o", "+o", "-O", "+O", "--rcfile", "--init-file"})
_STDIN_FILES = ("/dev/stdin", "/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/", "-")

Kind = Literal["command", "string", "none", "hidden", "guess"]


@dataclass(frozen=True, slots=True)
class Reading:
    """What a wrapper runs: the words of a command, a command string, nothing, or something unseen."""

    kind: Kind
    start: int = 0
    """Where the command begins (`command`), or where guessing begins (`guess`)."""
    text: str = ""
    """The command string (`string`), or why the line is hidden (`hidden`)."""


def _takes_value(grammar: Grammar, option: str) -> bool:
    return option in grammar.long_values or option in grammar.long_string


def read_wrapper(name: str, words: list[str]) -> Reading:  # noqa: PLR0915 - one grammar walk
    """Read `words` (the wrapper's own word first) by the grammar of wrapper `name`."""
    grammar = WRAPPERS[name]
    i = 1
    string: str | None = None
    guess = False
    while i < len(words):
        word = words[i]
        if word == "--":
            i += 1
            break
        if not word.startswith("-") or word == "-":
            break
        if word in grammar.stops:
            return Reading("none")
        if word.startswith("--"):
            option, eq, value = word.partition("=")
            if option in grammar.long_string:
                string = value if eq else (words[i + 1] if i + 1 < len(words) else "")
                i += 1 if eq else 2
                continue
            if option in grammar.stops:
                return Reading("none")
            if option in grammar.long_flags or (grammar.any_long and eq):
                i += 1
                continue
            if _takes_value(grammar, option):
                i += 1 if eq else 2
                continue
            if grammar.any_long:  # `--target 1 curl`: 1 may be the option's value or the command
                guess = True
                i += 1
                continue
            guess = True
            i += 1
            continue
        if grammar.numeric and word[1:].lstrip("+-").isdigit():
            i += 1
            continue
        j = 1
        consumed = 1
        while j < len(word):
            letter = word[j]
            if f"-{letter}" in grammar.stops:
                return Reading("none")
            if letter == grammar.string_option and grammar.string_option:
                rest = word[j + 1 :]
                string = rest if rest else (words[i + 1] if i + 1 < len(words) else "")
                consumed = 1 if rest else 2
                break
            if letter in grammar.values:
                consumed = 1 if word[j + 1 :] else 2
                break
            if letter not in grammar.flags:
                guess = True
            j += 1
        i += consumed
    if string is not None:
        return Reading("string", text=string)
    if grammar.operands < 0:  # su [USER]: a user name may come first; without -c it starts a shell
        return Reading("hidden", text=f"{name} without -c starts a shell that reads commands unseen")
    i += grammar.operands
    if grammar.string_option and i < len(words):  # `flock FILE -c CMD`, `sg GROUP -c CMD`
        word = words[i]
        if word == f"-{grammar.string_option}" or word in grammar.long_string:
            return Reading("string", text=words[i + 1] if i + 1 < len(words) else "")
        if word.startswith(tuple(f"{option}=" for option in grammar.long_string)):
            return Reading("string", text=word.partition("=")[2])
    if guess or grammar.guess:
        if i >= len(words) and grammar.shell_when_bare:
            return Reading("hidden", text=f"{name} may start a shell that reads commands unseen")
        return Reading("guess", start=min(i, len(words)))
    if i >= len(words):
        if grammar.shell_when_bare:
            return Reading("hidden", text=f"{name} with no command starts a shell that reads commands unseen")
        return Reading("none")
    if grammar.joined:
        return Reading("string", text=" ".join(words[i:]))
    return Reading("command", start=i)


def read_shell(words: list[str]) -> Reading:
    """`bash -c STRING`, a script file, or a shell reading commands from stdin (which no rule can see)."""
    i = 1
    command_string = False
    while i < len(words):
        word = words[i]
        if word in {"--", "-"}:
            i += 1
            break
        if word in _SHELL_VALUES:
            i += 2
            continue
        if word.startswith("--"):
            if word in {"--command"}:
                command_string = True
            i += 1
            continue
        if word.startswith(("-", "+")) and len(word) > 1:
            letters = word[1:]
            if "c" in letters and word.startswith("-"):
                command_string = True
            if "s" in letters or "i" in letters:
                return Reading("hidden", text=f"{words[0]} reads its commands from stdin")
            i += 1
            continue
        break
    if command_string:
        if i >= len(words):
            return Reading("hidden", text=f"{words[0]} -c without a command string reads it from elsewhere")
        return Reading("string", text=words[i])
    if i >= len(words) or words[i].startswith(_STDIN_FILES):
        return Reading("hidden", text=f"{words[0]} reads its commands from stdin")
    if any(c in words[i] for c in "$`…"):
        return Reading("hidden", text=f"{words[0]} runs a script whose name or content is computed (`<(...)`)")
    return Reading("none")  # a script file: it runs as a program does
