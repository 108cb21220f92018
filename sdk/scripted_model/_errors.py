"""The scripted model's errors, one branch of magistrate's error tree (drawn in `magistrate.broker._errors`).

A test that cannot start its model should say why in words a user can act on: which file, which field,
which address.
"""

from __future__ import annotations

from magistrate.broker import MagistrateError


class ScriptedModelError(MagistrateError):
    """The scripted model could not start or was used wrongly (e.g. its address is taken)."""


class ScenarioError(ScriptedModelError):
    """A scenario could not be read or is not valid; `source` names the file when there is one."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(f"{source}: {message}" if source else message)
        self.source = source
