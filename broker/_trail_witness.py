"""A copy of the latest signed checkpoint kept outside the database, so cutting off the trail's tail shows.

Signatures stop anyone without the key from changing what a checkpoint says, but not from deleting the last
records together with their checkpoints: what remains is an older trail, still perfectly signed. The witness
remembers the largest checkpoint this machine has written (or seen), beside the key by default
(`trail.witness/<log id>.json`), and verification insists the trail still contains it: at least that many
records, and the same root over them.

A witness only helps if the attacker cannot also rewrite it; keep it where the key is, or copy checkpoints
somewhere else entirely (`magistrate audit checkpoint` prints the latest one). Updates are monotone under a
file lock, so concurrent writers never move it backwards.
"""

from __future__ import annotations

import fcntl
import json
import secrets
from pathlib import Path

from magistrate.broker._signing import Checkpoint
from magistrate.broker._trail_errors import AuditError


class Witness:
    """The witness files in one directory, one per trail (by log id)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def beside(cls, key_path: Path) -> Witness:
        return cls(key_path.with_name(key_path.name.removesuffix(".key") + ".witness"))

    def path(self, log_id: str) -> Path:
        return self.directory / f"{log_id}.json"

    def read(self, log_id: str) -> Checkpoint | None:
        path = self.path(log_id)
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AuditError(f"cannot read the witness {path}: {exc}") from exc
        try:
            return Checkpoint.from_json(json.loads(text))
        except (ValueError, KeyError, TypeError) as exc:
            raise AuditError(f"the witness {path} is unreadable: {exc}") from exc

    def for_database(self, log_id: str, db: str) -> Checkpoint | None:
        """The witness of trail `log_id`; failing that, one recorded for the same database `db`, which then
        shows that the trail there was replaced by another (a new log id) since."""
        found = self.read(log_id)
        if found is not None or not self.directory.is_dir():
            return found
        for path in sorted(self.directory.glob("*.json")):
            try:
                data = json.loads(path.read_text())
                if data.get("db") == db:
                    return Checkpoint.from_json(data)
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue
        return None

    def advance(self, checkpoint: Checkpoint, db: str | None = None) -> None:
        """Record `checkpoint` (and the database it came from) unless the witness already holds a larger one."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.path(checkpoint.log_id)
        lock_path = path.with_suffix(".lock")
        with lock_path.open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                current = self.read(checkpoint.log_id)
            except AuditError:
                current = None  # a torn witness is replaced by a good one
            if current is not None and current.size >= checkpoint.size:
                return
            tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
            tmp.write_text(json.dumps({**checkpoint.to_json(), "db": db}, indent=1) + "\n")
            tmp.chmod(0o600)
            tmp.replace(path)
