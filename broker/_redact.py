"""Keeps secrets out of the trail while keeping them comparable.

The trail is append-only and signed: a token that lands in it cannot be taken out without breaking the
chain. So records are redacted before they are hashed. A secret is replaced by `[hmac:<hex>]`, an
HMAC-SHA256 under a key kept beside the signing key (never in the database): the same secret gives the same
replacement, so a reader can still see "these two calls used the same token", but cannot recover it or test
guesses without the key.

What counts as a secret:
- the value of any field whose name looks like a credential (`password`, `token`, `api_key`, `secret`,
  `authorization`, `cookie`, ...), at any depth, whatever its type;
- every value of an `env` mapping (names are kept);
- substrings matching known token shapes (Anthropic, OpenAI, GitHub, Slack, AWS, JWTs, PEM private keys,
  `Bearer ...`), and `NAME=value` / `--password value` where NAME looks like a credential, in any string.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from typing import Any

DEFAULT_FIELDS = (
    r"pass(word|wd|phrase)?|secret|token(?!s)|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credential"
    r"|authorization|auth[_-]?header|cookie|session[_-]?(key|secret)|client[_-]?secret|signature"
)
DEFAULT_ENV_FIELDS = ("env", "environment")
_SECRETISH = (
    r"[A-Za-z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?)[A-Za-z0-9_]*"
)
DEFAULT_PATTERNS = (
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
    r"\bsk-ant-[A-Za-z0-9_\-]{10,}",
    r"\bsk-[A-Za-z0-9_\-]{20,}",
    r"\bgh[pousr]_[A-Za-z0-9]{20,}",
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",
    r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",
    r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
    # With a group named `v`, only that group is the secret; the rest stays readable.
    r"(?i)\b(?:bearer|basic) (?P<v>[A-Za-z0-9._~+/\-]{8,}=*)",
    rf"(?i)\b{_SECRETISH}=(?P<v>\"[^\"]*\"|'[^']*'|[^\s;&|]+)",
    r"(?i)--password[= ](?P<v>\"[^\"]*\"|'[^']*'|[^\s;&|]+)",
    r"://[^/\s:@]+:(?P<v>[^/\s@]+)@",
)


class Redactor:
    """Replaces secrets in a JSON-like value by keyed hashes; `Redactor.disabled()` passes values through."""

    def __init__(
        self,
        key: bytes,
        *,
        fields: str = DEFAULT_FIELDS,
        env_fields: Iterable[str] = DEFAULT_ENV_FIELDS,
        patterns: Iterable[str] = DEFAULT_PATTERNS,
        extra_fields: Iterable[str] = (),
        extra_patterns: Iterable[str] = (),
        enabled: bool = True,
    ) -> None:
        """`fields`: a regex searched in field names; `patterns`: regexes for secrets inside strings (a group
        named `v` marks the secret part). `extra_*` add to the defaults instead of replacing them."""
        self._key = key
        self._field = re.compile("|".join([fields, *extra_fields]), re.IGNORECASE)
        self._env_fields = frozenset(f.lower() for f in env_fields)
        self._patterns = tuple(re.compile(p) for p in (*patterns, *extra_patterns))
        self._any = _any_of(self._patterns)
        self._names: dict[str, int] = {}
        """Field name -> how its value is redacted (`_PLAIN`, `_ENV`, `_WHOLE`), learnt once per name."""
        self._enabled = enabled

    @classmethod
    def disabled(cls) -> Redactor:
        return cls(b"", patterns=(), enabled=False)

    def hash(self, secret: str) -> str:
        """The stand-in for a secret: equal secrets, equal stand-ins."""
        digest = hmac.new(self._key, secret.encode(), hashlib.sha256).hexdigest()
        return f"[hmac:{digest[:32]}]"

    def _whole(self, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): self._whole(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._whole(v) for v in value]
        if value is None or isinstance(value, bool):
            return value
        return self.hash(value if isinstance(value, str) else repr(value))

    def text(self, value: str) -> str:
        """Replace every secret-shaped substring of a free string."""
        if not self._enabled or (self._any is not None and self._any.search(value) is None):
            return value  # one search finds that no pattern matches anywhere: most strings have no secret
        for pattern in self._patterns:
            value = pattern.sub(self._replace, value)
        return value

    def _replace(self, match: re.Match[str]) -> str:
        if "v" not in match.re.groupindex:
            return self.hash(match.group(0))
        if match.group("v").startswith("[hmac:"):  # an earlier pattern already replaced this secret
            return match.group(0)
        start, end = match.span("v")
        whole = match.group(0)
        offset = match.start()
        return whole[: start - offset] + self.hash(match.group("v")) + whole[end - offset :]

    def value(self, value: Any) -> Any:
        """A copy of a JSON-like value with secrets replaced; containers become dicts and lists."""
        if not self._enabled:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            names = self._names
            for k, v in value.items():
                name = str(k)
                how = names.get(name)
                if how is None:
                    how = self._how(name)
                if how == _ENV and isinstance(v, Mapping):
                    out[name] = {str(ek): self._whole(ev) for ek, ev in v.items()}
                elif how == _WHOLE and v is not None and not isinstance(v, bool):
                    out[name] = self._whole(v)
                elif type(v) is str:
                    out[name] = self.text(v)
                else:
                    out[name] = self.value(v)
            return out
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def _how(self, name: str) -> int:
        how = _ENV if name.lower() in self._env_fields else _WHOLE if self._field.search(name) else _PLAIN
        if len(self._names) < _NAMES_KEPT:  # bounded: field names come from tool inputs, which anyone shapes
            self._names[name] = how
        return how


_PLAIN, _ENV, _WHOLE = 0, 1, 2
_REFERENCES = re.compile(r"\\[1-9]|\(\?P=|\(\?\(|\\g<")
_NAMES_KEPT = 4096


def _any_of(patterns: tuple[re.Pattern[str], ...]) -> re.Pattern[str] | None:
    """One regex that matches wherever any of `patterns` does (their groups unnamed, their global flags
    scoped to them), to tell in one search that a string holds no secret; None if they cannot be joined."""
    parts = []
    for pattern in patterns:
        if _REFERENCES.search(pattern.pattern):
            return None  # group numbers would shift once joined
        source = pattern.pattern.replace("(?P<v>", "(?:")
        flags = re.match(r"\(\?([aiLmsux]+)\)", source)
        if flags:
            source = f"(?{flags.group(1)}:{source[flags.end() :]})"
        elif pattern.flags & re.IGNORECASE:
            source = f"(?i:{source})"
        parts.append(f"(?:{source})")
    if not parts:
        return None
    try:
        return re.compile("|".join(parts))
    except re.error:
        return None
