"""The one rule for the exit code of a command that failed on its store.

An input the command cannot read at all is a 2 everywhere (a trail `audit` cannot open, a policy that does
not load), so a server database or approval queue that cannot be opened or read is a 2 as well; a store that
opened but refused what was asked (an unknown requirement, a document it would not take) is a 1.
"""

from __future__ import annotations


def store_failure(exc: BaseException) -> int:
    """2 when the store itself could not be used, 1 when it refused the request."""
    from magistrate.servers import DatabaseError

    return 2 if isinstance(exc, DatabaseError) else 1
