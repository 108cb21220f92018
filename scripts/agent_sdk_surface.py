"""Snapshot the public surface of an installed `claude_agent_sdk`, so a test can hold magistrate.sdk to it.

The official package is not a dependency of this project. Either run this script with a Python that has
it installed, or let it make a throwaway venv and install it there (`--install`, optionally a version):

    python scripts/agent_sdk_surface.py tests/sdk/agent_sdk_surface.json
    python scripts/agent_sdk_surface.py --install [0.2.189] tests/sdk/agent_sdk_surface.json

then commit the JSON it writes. The test that reads it needs no network and no official package.

For each name in `__all__` it records the kind (class, dataclass, typeddict, protocol, function, alias,
constant), and for dataclasses their fields with defaults, for TypedDicts their keys (required or not), for
functions their parameters with defaults. Defaults are written as `repr`s; factories as `factory:<type>`.
The same functions are imported by the test to describe magistrate.sdk, so both sides are described alike.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import sys
import typing
from pathlib import Path
from typing import Any

import typing_extensions
from typing_extensions import is_typeddict

_MISSING = "<required>"


def _default(value: Any) -> str:
    if value is inspect.Parameter.empty or value is dataclasses.MISSING:
        return _MISSING
    if value is sys.stderr:
        return "sys.stderr"
    if isinstance(value, (set, frozenset)):
        # Sorted, so the snapshot does not change with hash randomisation.
        return f"{type(value).__name__}({sorted(value, key=repr)!r})"
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    return repr(value)


def _dataclass_fields(cls: type) -> list[list[str]]:
    """In order, since a dataclass is also built positionally."""
    out: list[list[str]] = []
    for item in dataclasses.fields(cls):
        if not item.init:
            continue
        if item.default_factory is not dataclasses.MISSING:
            made = item.default_factory()
            out.append([item.name, f"factory:{made!r}"])
        else:
            out.append([item.name, _default(item.default)])
    return out


def _typeddict_keys(cls: type) -> dict[str, str]:
    required: frozenset[str] = getattr(cls, "__required_keys__", frozenset())
    keys = {key for base in cls.__mro__ for key in getattr(base, "__annotations__", {})}
    return {key: "required" if key in required else "optional" for key in sorted(keys)}


def _parameters(func: Any) -> list[str]:
    """In order, each as `name:KIND=default`."""
    signature = inspect.signature(func)
    return [
        f"{name}:{param.kind.name}={_default(param.default)}"
        for name, param in signature.parameters.items()
        if name != "self"
    ]


def describe(value: Any) -> dict[str, Any]:
    """The kind of one public value, with the details that make two implementations interchangeable."""
    # On Python 3.10 a parameterised alias (`Callable[[str], Awaitable[X]]`) passes isinstance(value, type);
    # it has an origin, which no class has, so it is described as the alias it is on every version.
    if isinstance(value, type) and typing.get_origin(value) is None:
        if is_typeddict(value):
            return {"kind": "typeddict", "keys": _typeddict_keys(value)}
        if dataclasses.is_dataclass(value):
            frozen = value.__dataclass_params__.frozen  # type: ignore[attr-defined]
            return {"kind": "dataclass", "frozen": frozen, "fields": _dataclass_fields(value)}
        if getattr(value, "_is_protocol", False):
            methods = sorted(name for name in vars(value) if not name.startswith("_") and callable(vars(value)[name]))
            return {"kind": "protocol", "methods": methods}
        if issubclass(value, BaseException):
            return {"kind": "exception", "bases": [base.__name__ for base in value.__mro__[1:-2]]}
        methods = sorted(name for name, _ in inspect.getmembers(value, callable) if not name.startswith("_"))
        return {"kind": "class", "methods": methods}
    if inspect.isfunction(value) or inspect.isbuiltin(value):
        is_async = inspect.iscoroutinefunction(value) or inspect.isasyncgenfunction(value)
        return {"kind": "function", "async": is_async, "parameters": _parameters(value)}
    if typing.get_origin(value) in (typing.Literal, typing_extensions.Literal):
        return {"kind": "alias", "literal": sorted(str(arg) for arg in typing.get_args(value))}
    if typing.get_origin(value) is not None or isinstance(value, typing.TypeVar):
        return {"kind": "alias"}
    if type(value).__module__ in ("typing", "typing_extensions", "types"):
        return {"kind": "alias"}
    return {"kind": "constant", "value": _default(value)}


def surface(module: Any) -> dict[str, Any]:
    return {name: describe(getattr(module, name)) for name in sorted(module.__all__)}


def _in_throwaway_venv(version: str | None, target: Path) -> None:
    """Install the official package into a temporary venv and run this script there."""
    import subprocess
    import tempfile
    import venv

    with tempfile.TemporaryDirectory() as folder:
        venv.create(folder, with_pip=True)
        python = str(Path(folder) / "bin" / "python")
        package = f"claude-agent-sdk=={version}" if version else "claude-agent-sdk"
        subprocess.run([python, "-m", "pip", "install", "-q", package, "typing_extensions"], check=True)
        subprocess.run([python, __file__, str(target)], check=True)


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] == "--install":
        version = args[1] if len(args) > 2 or (len(args) == 2 and not args[1].endswith(".json")) else None
        rest = args[2:] if version else args[1:]
        _in_throwaway_venv(version, Path(rest[0]) if rest else Path("tests/sdk/agent_sdk_surface.json"))
        return
    import claude_agent_sdk  # type: ignore[import-not-found]  # installed only where the snapshot is made

    out = {"package": "claude_agent_sdk", "version": claude_agent_sdk.__version__, "names": surface(claude_agent_sdk)}
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("tests/sdk/agent_sdk_surface.json")
    target.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"{len(out['names'])} names of claude_agent_sdk {out['version']} written to {target}")


if __name__ == "__main__":
    main()
