"""The trail's errors: it could not be written or read, or it does not verify.

A failed write must turn the decision into a deny, so the broker catches `AuditError`; a failed verification
names the first bad record (`seq`, None when the fault is not in one record) and what is wrong with it.
"""

from __future__ import annotations

from magistrate.broker._errors import MagistrateError


class AuditError(MagistrateError):
    """The trail could not be opened, written or read."""


class TrailVerificationError(AuditError):
    """The trail does not verify: `seq` is the first bad record (None when no single record is to blame)."""

    def __init__(self, message: str, *, seq: int | None = None, problem: str = "") -> None:
        super().__init__(message)
        self.seq = seq
        """Position of the first bad record in the trail, 0-based."""
        self.problem = problem
        """A short machine-readable name for the fault (`edited`, `missing`, `truncated`, `unsigned`, ...)."""
