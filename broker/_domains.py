"""`WebFetch(domain:...)` rules, compared against the host a URL really reaches.

Matching text is how `https://example.com@evil.org/` passes for example.com; the host is taken after URL
parsing (user info, port, case and a trailing dot removed). Parsers disagree on odd URLs (a backslash is a
path separator to a browser and to Node's WHATWG parser, part of the authority to Python's), so a URL yields
every host a reasonable parser would read: a deny matches if any of them matches, an allow only if all do.
`domain:example.com` names that host; `domain:*.example.com` its subdomains. In deny and ask lists the plain
form also covers subdomains, since a deny should never be narrower than its author meant.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit


def _host(url: str) -> str | None:
    try:
        parts = urlsplit(url if "://" in url else "https://" + url)
        host = parts.hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.rstrip(".").lower()
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return host or None


@lru_cache(maxsize=4096)
def hosts_of(url: str) -> tuple[str, ...] | None:
    """Every host `url` may reach, or None when it has no host a rule could vouch for."""
    candidates = {_host(url), _host(url.replace("\\", "/"))}
    if None in candidates:
        return None
    return tuple(sorted(h for h in candidates if h is not None))


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
