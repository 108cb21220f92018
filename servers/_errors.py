"""The servers' errors, so a tool can say exactly what was wrong and the command line can report it.

Every error here becomes a tool result with `isError` set and the message as its text: a model reads the
message and corrects its call, so messages name the field, the limit or the missing thing.
"""

from __future__ import annotations

from collections.abc import Sequence

from magistrate.broker import MagistrateError


class ServerError(MagistrateError):
    """Root of the errors of the bundled MCP servers and their storage."""


class InvalidInputError(ServerError):
    """A tool or command got arguments it cannot take; `problems` lists each one (`field: what is wrong`)."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message if not problems else f"{message}: " + "; ".join(problems))
        self.problems = tuple(problems)


class LimitExceededError(InvalidInputError):
    """An input is larger than the server accepts; `limit` and `actual` are in the unit the message names.
    `actual` is None where reading stopped at the limit, so how far past it the input goes is not known."""

    def __init__(self, what: str, limit: int, actual: int | None, unit: str = "bytes") -> None:
        size = "" if actual is None else f"{actual} {unit}, "
        super().__init__(f"{what} is {size}over the limit of {limit} {unit}")
        self.limit = limit
        self.actual = actual


class NotFoundError(ServerError):
    """A requirement, finding or document that does not exist (or, for a document, was deleted)."""


class ImportRowsError(ServerError):
    """A framework file had bad rows; `errors` holds every problem found, and nothing was written."""

    def __init__(self, source: str, errors: Sequence[str]) -> None:
        super().__init__(f"{source}: {len(errors)} problem(s), nothing imported:\n" + "\n".join(errors))
        self.source = source
        self.errors = tuple(errors)


class ExtractionError(ServerError):
    """Text could not be extracted from a file (unsupported type, damaged file, missing parser)."""


class DatabaseError(ServerError):
    """The database could not be opened or used (bad URL, missing driver, schema problem)."""
