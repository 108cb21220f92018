"""One error root for the whole project, so callers can catch everything magistrate raises at once.

The tree (each part adds its branch; this docstring is the map)::

    MagistrateError
    ├── ClaudeSDKError                    (magistrate.sdk: the Claude Code SDK root, for drop-in use)
    │   ├── CLIConnectionError
    │   │   ├── CLINotFoundError          cli_path
    │   │   └── ControlTimeoutError       a control request got no answer in time
    │   ├── ProcessError                  exit_code, stderr
    │   │   └── ResultError               subtype, errors, result: the CLI's error result before it exited
    │   ├── CLIJSONDecodeError            line, original_error
    │   ├── MessageParseError             data
    │   └── OptionsError                  option: an option the CLI cannot take, named
    ├── ScriptedModelError                (magistrate.sdk.scripted_model: could not start, address taken)
    │   └── ScenarioError                 source: a scenario file that cannot be read or is not valid
    ├── PolicyError                       (magistrate.broker)
    │   └── PolicyLoadError               errors: every problem found while loading, with rule and source
    ├── AuditError                        (magistrate.broker._trail_errors: the trail could not be written or read)
    │   ├── TrailVerificationError        seq, problem: the first bad record and what is wrong with it
    │   └── RemoteBrokerError             url, status: a shared broker was unreachable, slow or refused
    └── ServerError                       (magistrate.servers)
        ├── InvalidInputError             problems: each bad argument, `field: what is wrong`
        │   └── LimitExceededError        limit, actual
        ├── NotFoundError                 no such requirement, finding or (live) document
        ├── ImportRowsError               source, errors: every bad row of a framework file
        ├── ExtractionError               a file's text could not be extracted
        └── DatabaseError                 the store could not be opened or used
"""

from __future__ import annotations

import copyreg
from typing import Any


class MagistrateError(Exception):
    """Root of every error magistrate raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        # A pickled error comes back as it was, its arguments and attributes, without calling `__init__`
        # again: most errors here take other arguments than the message they pass on to Exception.
        newobj = copyreg.__newobj__  # type: ignore[attr-defined]  # in copyreg, not in its stubs
        return newobj, (type(self), *self.args), self.__dict__ or None
