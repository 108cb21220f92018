"""Bash's brace expansion, bounded: `{c,}url` is `curl url`, `c{u..u}rl` is `curl`, `{a,{b,c}}` nests.

Expansion happens before anything else bash does to a word, so a deny must see its results: `{r,}m -rf x`
runs `rm`. The number of words one word may become is bounded; past the bound the caller is told (None) and
refuses the line instead of guessing.
"""

from __future__ import annotations

MAX_WORDS = 64


def _sequence(body: str) -> list[str] | None:
    """`a..e`, `1..10`, `01..10..3`: bash's sequence expressions; None when `body` is not one."""
    parts = body.split("..")
    if len(parts) not in {2, 3}:
        return None
    step_text = parts[2] if len(parts) == 3 else "1"
    try:
        step = abs(int(step_text)) or 1
    except ValueError:
        return None
    first, last = parts[0], parts[1]
    if len(first) == 1 and len(last) == 1 and first.isalpha() and last.isalpha():
        a, b = ord(first), ord(last)
        span = range(a, b + 1, step) if a <= b else range(a, b - 1, -step)
        return [chr(c) for c in span][: MAX_WORDS + 1]
    try:
        a, b = int(first), int(last)
    except ValueError:
        return None
    width = max(len(first), len(last)) if first.lstrip("-").startswith("0") or last.lstrip("-").startswith("0") else 0
    span = range(a, b + 1, step) if a <= b else range(a, b - 1, -step)
    out: list[str] = []
    for n in span:
        out.append(str(n).zfill(width) if width else str(n))
        if len(out) > MAX_WORDS:
            break
    return out


def _alternatives(word: str) -> tuple[str, list[str], str] | None:
    """The first expandable brace group of `word`: what comes before, its alternatives, what comes after."""
    i = 0
    while i < len(word):
        if word[i] != "{" or (i > 0 and word[i - 1] == "$"):
            i += 1
            continue
        depth = 0
        commas: list[int] = []
        close = -1
        for j in range(i, len(word)):
            c = word[j]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    close = j
                    break
            elif c == "," and depth == 1:
                commas.append(j)
        if close < 0:
            i += 1
            continue
        body = word[i + 1 : close]
        if commas:
            bounds = [i, *commas, close]
            alts = [word[bounds[k] + 1 : bounds[k + 1]] for k in range(len(bounds) - 1)]
            return word[:i], alts, word[close + 1 :]
        seq = _sequence(body)
        if seq is not None:
            return word[:i], seq, word[close + 1 :]
        i += 1
    return None


def expand(word: str) -> list[str] | None:
    """The words bash makes of `word` by brace expansion; None when there would be more than MAX_WORDS.

    Empty results are dropped, as bash drops them (`{,curl} x` runs `curl x`).
    """
    out = _expand(word)
    return None if out is None else [w for w in out if w] or ([word] if not out else [])


def _expand(word: str) -> list[str] | None:
    found = _alternatives(word)
    if found is None:
        return [word]
    head, alts, tail = found
    out: list[str] = []
    for alt in alts:
        more = _expand(head + alt + tail)
        if more is None:
            return None
        out.extend(more)
        if len(out) > MAX_WORDS:
            return None
    return out
