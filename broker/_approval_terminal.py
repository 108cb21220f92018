"""Asking the person at the terminal, when there is one.

The question goes to the controlling terminal (`/dev/tty`), not to stdout, which may be a pipe or the
protocol itself. The blocking read runs in a worker thread that is abandoned on timeout, so a person who
walks away turns into a deny, not a hung run.
"""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass

import anyio
import anyio.to_thread

from magistrate.broker._approval import AskRequest, Verdict

_MAX_SHOWN = 2000


def terminal_available(path: str = "/dev/tty") -> bool:
    """Whether a person can be asked: a controlling terminal we can open."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


@dataclass
class TerminalApprover:
    """Shows the call and the reason, reads y/N and an optional note."""

    tty_path: str = "/dev/tty"

    async def approve(self, ask: AskRequest) -> Verdict:
        return await anyio.to_thread.run_sync(self._ask_blocking, ask, abandon_on_cancel=True)

    def _ask_blocking(self, ask: AskRequest) -> Verdict:
        shown = json.dumps(dict(ask.input), ensure_ascii=False)
        if len(shown) > _MAX_SHOWN:
            shown = shown[:_MAX_SHOWN] + " ..."
        rule = f" (rule {ask.rule})" if ask.rule else ""
        question = (
            f"\nmagistrate: the agent wants to run {ask.tool_name}{rule}\n"
            f"  input:  {shown}\n"
            f"  reason: {ask.reason or 'the policy asks'}\n"
            "Allow? [y/N] "
        )
        # One descriptor, read and written through two text layers: a terminal is not seekable, so a single
        # "r+" file object (which needs a seekable stream) cannot be used.
        fd = os.open(self.tty_path, os.O_RDWR | os.O_NOCTTY)
        with open(fd, encoding="utf-8") as reader, open(fd, "w", encoding="utf-8", closefd=False) as writer:  # noqa: PTH123 - a descriptor, not a path
            writer.write(question)
            writer.flush()
            answer = reader.readline().strip().lower()
            writer.write("Note (optional): ")
            writer.flush()
            note = reader.readline().strip()
        return Verdict(approved=answer in ("y", "yes"), approver=f"terminal:{getpass.getuser()}", note=note)
