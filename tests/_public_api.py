"""Checks every package's public surface is held to, shared by the tests/<part>/test_public_api.py files.

A package publishes exactly its `__all__` (sorted, each name resolving, no public name left out of it), and
what it defines carries the package's name (`magistrate.sdk.OptionsError`, not the private module's), with the
annotations still readable by pydantic, `dataclasses` and `typing.get_type_hints`.
"""

from __future__ import annotations

import ast
import inspect
import pickle
import subprocess
import sys
from pathlib import Path
from types import FunctionType, ModuleType
from typing import Any


def unexported_public_names(package: ModuleType) -> set[str]:
    """Top-level names without an underscore that `__all__` leaves out (submodules aside)."""
    return {
        name
        for name, value in vars(package).items()
        if not name.startswith("_") and not isinstance(value, ModuleType) and name not in package.__all__
    }


def type_checking_names(package: ModuleType) -> dict[str, tuple[str, str]]:
    """What the package's `if TYPE_CHECKING:` block imports: public name -> (module, name there)."""
    tree = ast.parse(Path(str(package.__file__)).read_text())
    typed: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom), ast.dump(statement)
                for alias in statement.names:
                    typed[alias.asname or alias.name] = (str(statement.module), alias.name)
    return typed


def modules_loaded_by(statement: str, roots: set[str]) -> list[str]:
    """The modules under `roots` that `statement` loads, in a fresh interpreter."""
    code = f"import sys\n{statement}\nprint(sorted({{m for m in sys.modules if m.split('.')[0] in {roots!r}}}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    loaded: list[str] = ast.literal_eval(done.stdout.strip())
    return loaded


def defined_here(package: ModuleType) -> dict[str, Any]:
    """The exported classes and functions the package defines itself, under their own name."""
    found: dict[str, Any] = {}
    for name in package.__all__:
        value = getattr(package, name)
        if isinstance(value, (type, FunctionType)) and value.__qualname__ == name and _holders(package, value):
            found[name] = value
    return found


def _holders(package: ModuleType, value: Any) -> list[ModuleType]:
    """The package's own private modules that hold `value` (the one defining it, and any importing it)."""
    depth = package.__name__.count(".") + 1
    return [
        module
        for module_name, module in list(sys.modules.items())
        if module_name.startswith(f"{package.__name__}._")
        and module_name.count(".") == depth
        and vars(module).get(value.__qualname__) is value
    ]


def misnamed(package: ModuleType) -> list[str]:
    """Exported classes and functions whose `__module__` is not the package."""
    return sorted(
        f"{name}: {value.__module__}"
        for name, value in defined_here(package).items()
        if value.__module__ != package.__name__
    )


def _evaluates(annotation: str, module: ModuleType) -> bool:
    try:
        eval(annotation, vars(module))
    except NameError:
        return False
    return True


def unevaluated_annotations(package: ModuleType) -> list[str]:
    """Annotations of exported classes left as strings although a module of the package could evaluate them.

    Left as strings, they would be looked up in the package (their `__module__`), which lacks the names; one
    naming something imported only for type checking cannot be evaluated anywhere, and stays."""
    return sorted(
        f"{name}.{attribute}: {annotation}"
        for name, value in defined_here(package).items()
        if isinstance(value, type)
        for attribute, annotation in inspect.get_annotations(value).items()
        if isinstance(annotation, str) and any(_evaluates(annotation, m) for m in _holders(package, value))
    )


def round_trip(value: Any) -> Any:
    return pickle.loads(pickle.dumps(value))


def _state(error: BaseException) -> dict[str, str]:
    # reprs: an attribute that is itself an exception compares by identity
    return {key: repr(value) for key, value in vars(error).items()}


def unpicklable_errors(package: ModuleType, make: dict[str, Any]) -> list[str]:
    """Exported errors that do not come back from a pickle with their class, arguments and attributes.

    `make` builds the errors whose constructor needs more than a message."""
    failed: list[str] = []
    for name, value in defined_here(package).items():
        if not (isinstance(value, type) and issubclass(value, BaseException)):
            continue
        error = make[name]() if name in make else value("it failed")
        try:
            back = round_trip(error)
        except Exception as exc:  # noqa: BLE001 - the failure is the finding
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        if type(back) is not value or back.args != error.args or _state(back) != _state(error):
            failed.append(f"{name}: came back as {back!r}")
    return failed
