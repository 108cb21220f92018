"""`WebFetch(domain:...)` rules, compared against the host a URL really reaches.

Matching text is how `https://example.com@evil.org/` passes for example.com; the host is taken the way the
CLI's fetch takes it, with the WHATWG URL parser of Node: tabs and newlines dropped, any run of `/` and `\\`
after a special scheme skipped (`https:evil.com` and `https:///evil.com` reach evil.com), user info cut at
the last `@`, the host percent-decoded (`evil%2Ecom` is evil.com), mapped to ASCII (IDNA, lowercase) and
IPv4 forms normalised (`0x7f.1` is 127.0.0.1); a trailing dot is dropped for matching. A second, looser
reading (Python's `urlsplit`, and the URL with `https://` put in front when it has no scheme) adds its host
when it finds a different one: a deny matches if any of them matches, an allow only if all do. A URL in
which the WHATWG reading finds no host has none a rule could vouch for: the WebFetch input check denies it,
whatever the policy.
`domain:example.com` names that host; `domain:*.example.com` its subdomains. In deny and ask lists the plain
form also covers subdomains, since a deny should never be narrower than its author meant.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from functools import lru_cache
from urllib.parse import unquote_to_bytes, urlsplit

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_SPECIAL = frozenset({"http", "https", "ws", "wss", "ftp"})
_C0_AND_SPACE = "".join(chr(c) for c in range(33))
_FORBIDDEN_HOST = frozenset("\x00\t\n\r #/:<>?@[\\]^|%")


def _ipv4_part(part: str) -> int | None:
    base = 10
    if part[:2] in {"0x", "0X"}:
        part, base = part[2:], 16
    elif len(part) > 1 and part.startswith("0"):
        part, base = part[1:], 8
    if not part:
        return 0
    try:
        return int(part, base)
    except ValueError:
        return None


def _ipv4(host: str) -> str | None:
    """The WHATWG IPv4 parser: `0x7f.1`, `2130706433` and `0177.0.0.1` are all 127.0.0.1; None if not IPv4."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if not parts or len(parts) > 4 or "" in parts:
        return None
    numbers = [_ipv4_part(p) for p in parts]
    if None in numbers:
        return None
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return None
    address = values[-1]
    for i, n in enumerate(values[:-1]):
        address += n * 256 ** (3 - i)
    return ".".join(str((address >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def _ends_in_number(host: str) -> bool:
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    last = parts[-1]
    if last.isdigit():
        return True
    return last[:2] in {"0x", "0X"} and all(c in "0123456789abcdefABCDEF" for c in last[2:])


_DOTS = re.compile("[.\u3002\uff0e\uff61]")


def _uts46(host: str) -> str | None:
    """Close to UTS 46 non-transitional (what Node uses): NFKC, lowercase, `ß` and `ς` kept, punycode."""
    labels: list[str] = []
    for label in _DOTS.split(unicodedata.normalize("NFKC", host).lower()):
        if label.isascii():
            labels.append(label)
            continue
        try:
            labels.append("xn--" + label.encode("punycode").decode("ascii"))
        except UnicodeError:
            return None
    return ".".join(labels)


def _to_ascii(host: str) -> list[str]:
    """The ASCII spellings of a host; two when IDNA 2003 and UTS 46 disagree (`straße.de`)."""
    if host.isascii():
        return [host.lower()]
    found: list[str] = []
    with contextlib.suppress(UnicodeError):
        found.append(host.encode("idna").decode("ascii").lower())
    other = _uts46(host)
    if other is not None and other not in found:
        found.append(other)
    return found


def _normal(host: str | None) -> list[str]:
    """A host as rules compare it: ASCII, lowercase, IPv4 in dotted decimal, no trailing dot."""
    out: list[str] = []
    for ascii_host in _to_ascii(host) if host else []:
        if not ascii_host or not _FORBIDDEN_HOST.isdisjoint(ascii_host):
            return []
        value = _ipv4(ascii_host) if _ends_in_number(ascii_host) else ascii_host.rstrip(".")
        if not value:
            return []
        out.append(value)
    return out


def whatwg_hosts(url: str) -> list[str]:
    """The host Node's `new URL(url).hostname` gives for an http(s), ws(s) or ftp URL; empty if none."""
    url = url.strip(_C0_AND_SPACE).replace("\t", "").replace("\n", "").replace("\r", "")
    scheme = _SCHEME.match(url)
    if scheme is None or scheme.group(1).lower() not in _SPECIAL:
        return []
    rest = url[scheme.end() :].lstrip("/\\")
    end = next((i for i, c in enumerate(rest) if c in "/\\?#"), len(rest))
    authority = rest[:end].rpartition("@")[2]
    if authority.startswith("["):
        close = authority.find("]")
        return [] if close < 0 else [authority[: close + 1].lower()]
    host = authority.partition(":")[0]
    try:
        decoded = unquote_to_bytes(host).decode("utf-8")
    except UnicodeDecodeError:
        return []
    return _normal(decoded)


def _python_hosts(url: str) -> list[str]:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return []
    return _normal(host)


@lru_cache(maxsize=4096)
def hosts_of(url: str) -> tuple[str, ...] | None:
    """Every host `url` may reach, or None when the CLI's parser finds no host a rule could vouch for."""
    url = url.strip(_C0_AND_SPACE)
    schemed = _SCHEME.match(url) is not None
    main = whatwg_hosts(url if schemed else "https://" + url)  # a bare `evil.com/x` reads as https
    if not main:
        return None
    candidates = set(main)
    if "://" in url or not schemed:
        for other in dict.fromkeys((url, url.replace("\\", "/"))):  # one reading when there is no backslash
            candidates.update(_python_hosts(other if "://" in other else "https://" + other))
    return tuple(sorted(candidates))


def domain_error(value: str) -> str | None:
    """Why `value` (the part after `domain:`) is not a domain pattern, or None when it is one."""
    if not value:
        return "empty domain after 'domain:'"
    if "://" in value or "/" in value:
        return "a URL where a domain belongs: write WebFetch(domain:host)"
    bare = value[2:] if value.startswith("*.") else value
    if "*" in bare or not bare or any(c in bare for c in " @:?#"):
        return "a domain is a host name, optionally starting with '*.'"
    return None
