"""Copies of a call's input that rules cannot change, and private copies the broker keeps for itself.

A rule is handed the call to judge, not the call to run: whatever a rule does to what it was given, the
input that is decided, recorded and run stays the one that came in, and a rewrite happens only through the
decision a rule returns (which is checked again). So rules get `frozen` values, which share nothing with
anything else and refuse every change, and the broker keeps a `thawed` deep copy of its own.

The frozen types are `dict` and `list` subclasses, so rules written against plain JSON values
(`isinstance(value, dict)`, `json.dumps`) keep working. Their guard can be stepped around on purpose
(`dict.__setitem__(d, k, v)`), but what that changes is a copy only that rule holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn


def _refuse(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError(f"a rule's view of the call is read-only ({type(self).__name__}); return a rewrite instead")


class FrozenDict(dict[str, Any]):
    """A read-only `dict`."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[type[FrozenDict], tuple[dict[str, Any]]]:
        return (FrozenDict, (dict(self),))


class FrozenList(list[Any]):
    """A read-only `list`."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __reduce__(self) -> tuple[type[FrozenList], tuple[list[Any]]]:
        return (FrozenList, (list(self),))


_ATOMS = frozenset({str, int, float, bool, type(None)})


def frozen(value: Any) -> Any:
    """A read-only deep copy of a JSON-like value (mappings and lists; other values as they are)."""
    if type(value) in _ATOMS:  # the common case first, without the ABC checks below
        return value
    if type(value) is dict:
        return FrozenDict({k: v if type(v) in _ATOMS else frozen(v) for k, v in value.items()})
    if isinstance(value, Mapping):
        return FrozenDict({k: frozen(v) for k, v in value.items()})
    if isinstance(value, list) or type(value) is tuple:
        return FrozenList(frozen(v) for v in value)
    return value


def frozen_mapping(value: Mapping[str, Any]) -> FrozenDict:
    """`frozen` for a mapping, typed as one."""
    result: FrozenDict = frozen(value)
    return result


def thawed(value: Any) -> Any:
    """A plain deep copy of a JSON-like value (dicts and lists), sharing nothing mutable with `value`."""
    if type(value) in _ATOMS:
        return value
    if type(value) is dict or type(value) is FrozenDict:
        return {k: v if type(v) in _ATOMS else thawed(v) for k, v in value.items()}
    if isinstance(value, Mapping):
        return {k: thawed(v) for k, v in value.items()}
    if isinstance(value, list) or type(value) is tuple:
        return [thawed(v) for v in value]
    return value


def thawed_mapping(value: Mapping[str, Any]) -> dict[str, Any]:
    """`thawed` for a mapping, typed as one."""
    result: dict[str, Any] = thawed(value)
    return result
