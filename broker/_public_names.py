"""Exported classes and functions carry the package's name, as httpx's and anyio's do.

A traceback then reads `magistrate.broker.PolicyLoadError`, a repr `<class 'magistrate.broker.Decision'>`,
and a pickle refers to the name a user can import. The package renames a value when its lazy `__getattr__`
first resolves it; a value exported under another name than its own, or defined in another package, keeps
its module (a pickle must find it by its own name).

Tools that read annotations (pydantic, `typing.get_type_hints`) look a string annotation's names up in the
module `__module__` names, and the package does not have them. So a class's string annotations are first
evaluated in the module that wrote them and stored as values (a dataclass field's `type` too); one that
cannot be evaluated there (a name imported only for type checking) stays a string, as unresolvable as it was.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import typing
from types import FunctionType
from typing import Any


def publish_public_name(value: Any, name: str, package: str) -> None:
    """Give `value`, exported by `package` as `name`, the package as its module (when it is its own)."""
    if not isinstance(value, (type, FunctionType)) or value.__qualname__ != name:
        return
    if not value.__module__.startswith(f"{package}._"):
        return
    if isinstance(value, type):
        _evaluate_annotations(value)
    value.__module__ = package


def _evaluate_annotations(cls: type) -> None:
    annotations = inspect.get_annotations(cls)
    fields = {field.name: field for field in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}
    evaluated = False
    for attribute, annotation in annotations.items():
        if not isinstance(annotation, str):
            continue
        try:
            value = _evaluated(annotation, cls)
        except (NameError, AttributeError, TypeError, SyntaxError):
            continue  # names something imported only for type checking: as unresolvable as it was
        annotations[attribute] = value
        evaluated = True
        if attribute in fields and fields[attribute].type == annotation:
            fields[attribute].type = value
    if evaluated:
        cls.__annotations__ = annotations


def _evaluated(annotation: str, cls: type) -> Any:
    value = eval(annotation, vars(sys.modules[cls.__module__]))  # noqa: S307 - the package's own annotations
    if _holds_a_string(value):
        # An alias with a string in it (`Callable[[AskRequest], "Verdict"]`): typing resolves that too, in the
        # module that wrote it. Slower, so only when needed (imports pay for every exported class).
        alone = type(cls.__name__, (), {"__module__": cls.__module__, "__annotations__": {"a": annotation}})
        value = typing.get_type_hints(alone, include_extras=True)["a"]
    return value


def _holds_a_string(value: Any) -> bool:
    if isinstance(value, (str, typing.ForwardRef)):
        return True
    origin = typing.get_origin(value)
    if origin is typing.Literal:
        return False
    arguments = value if isinstance(value, list) else typing.get_args(value)
    if origin is typing.Annotated:
        arguments = arguments[:1]
    return any(_holds_a_string(argument) for argument in arguments)
