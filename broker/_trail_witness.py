"""The signed tree head kept outside the database, so cutting, rolling back or swapping the trail shows.

Signatures stop anyone without the key from changing what a checkpoint says, but not from deleting the last
records together with their checkpoints, restoring an old copy of the database, or putting another trail
(signed by the same key, say the same user's other project) in its place: what remains is perfectly signed.
The witness remembers, beside the key by default (`trail.witness/`):

- the largest signed checkpoint (size, root and log id) this machine wrote or saw for each trail
  (`<log id>.json`);
- which trail lives at each database location (`db-<hash>.json`, the pin): the log id first written there.

Writers check both before they append (`check`), so no writer ever extends a trail cut below, or forked
from, what the witness saw, nor a trail that is not the one pinned at that location: the tree head the
witness holds must be a prefix of the trail (the trail's own signed checkpoint for that size must have the
same root). Verification checks the same from the records themselves (the root recomputed over the first
`size` leaves), and names a trail that is not the one pinned `replaced`.

A witness only helps if the attacker cannot also rewrite it; keep it where the key is, or copy checkpoints
somewhere else entirely (`magistrate audit checkpoint` prints the latest one). Updates are monotone under a
file lock, so concurrent writers never move it backwards.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

from magistrate.broker._signing import Checkpoint
from magistrate.broker._trail_errors import AuditError

_ADVICE = "refusing to append; run `magistrate audit verify`"


class Witness:
    """The witness files in one directory: one signed tree head per trail (by log id), one pin per database."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[Path, tuple[tuple[int, int, int], Checkpoint | None]] = {}

    @classmethod
    def beside(cls, key_path: Path) -> Witness:
        return cls(key_path.with_name(key_path.name.removesuffix(".key") + ".witness"))

    def path(self, log_id: str) -> Path:
        return self.directory / f"{log_id}.json"

    def pin_path(self, db: str) -> Path:
        return self.directory / f"db-{hashlib.sha256(db.encode()).hexdigest()[:24]}.json"

    # -- reading -------------------------------------------------------------------------------------------
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

    def _read_cached(self, log_id: str) -> Checkpoint | None:
        """`read`, skipped while the file is unchanged (a writer checks the witness before every append)."""
        path = self.path(log_id)
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AuditError(f"cannot read the witness {path}: {exc}") from exc
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        found = self.read(log_id)
        self._cache[path] = (stamp, found)
        return found

    def pinned(self, db: str) -> str | None:
        """The log id of the trail pinned at database location `db`, if one is.

        A witness from before pins existed says so through the `db` its checkpoints name: when they name one
        trail only, that trail is the one pinned."""
        path = self.pin_path(db)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            data = None
        except (OSError, ValueError) as exc:
            raise AuditError(f"the witness pin {path} is unreadable: {exc}") from exc
        if isinstance(data, dict) and isinstance(data.get("log_id"), str) and data.get("db") == db:
            return str(data["log_id"])
        if data is not None:
            raise AuditError(f"the witness pin {path} is unreadable: not a pin for {db}")
        claimed = {log_id for log_id, seen_db in self._checkpoint_files() if seen_db == db}
        return claimed.pop() if len(claimed) == 1 else None

    def _checkpoint_files(self) -> Iterator[tuple[str, str | None]]:
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob("*.json")):
            if path.name.startswith("db-"):
                continue
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(data, dict):
                yield path.stem, data.get("db") if isinstance(data.get("db"), str) else None

    def for_database(self, log_id: str, db: str) -> Checkpoint | None:
        """What verification should hold trail `log_id` at `db` to: its own signed tree head, or, when another
        trail is pinned at `db`, that trail's (whose other log id then shows the trail was replaced)."""
        pinned = self.pinned(db)
        if pinned is not None and pinned != log_id:
            other = self.read(pinned)
            if other is not None:
                return other
        return self.read(log_id)

    # -- the writer's checks -------------------------------------------------------------------------------
    def check(self, db: str, log_id: str, size: int, root: bytes, signed_root: Callable[[int], bytes | None]) -> None:
        """Raise `AuditError` unless the trail (`log_id` at `db`, `size` records with root `root`) is the one
        pinned at `db` and extends the tree head the witness holds. `signed_root(n)`: the root of the trail's
        own stored checkpoint for `n` records (None when there is none)."""
        pinned = self.pinned(db)
        if pinned is not None and pinned != log_id:
            raise AuditError(
                f"the trail at {db} was replaced: the witness pins trail {pinned} there, but this is trail {log_id}"
                f" ({_ADVICE}; to start a new trail there on purpose, remove {self.pin_path(db)})"
            )
        seen = self._read_cached(log_id)
        if seen is None:
            return
        if seen.size > size:
            raise AuditError(
                f"the trail has {size} records, but the witness saw a signed checkpoint of {seen.size} at"
                f" {seen.time}: records were cut off or the database was rolled back ({_ADVICE})"
            )
        held = root if seen.size == size else signed_root(seen.size)
        if held != seen.root:
            raise AuditError(
                f"the trail's first {seen.size} records are not the ones the witness saw signed at {seen.time}:"
                f" the trail was rewritten ({_ADVICE})"
            )

    # -- writing -------------------------------------------------------------------------------------------
    def advance(self, checkpoint: Checkpoint, db: str | None = None) -> None:
        """Record `checkpoint` (and the database it came from) unless the witness already holds a larger one;
        pin the trail at `db` if nothing is pinned there. A checkpoint of the same size with another root is a
        fork, refused. (That a larger checkpoint extends the held one the writer checked before appending.)"""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.path(checkpoint.log_id)
        with _locked(path.with_suffix(".lock")):
            try:
                current = self.read(checkpoint.log_id)
            except AuditError:
                current = None  # a torn witness is replaced by a good one
            if db is not None and self.pinned(db) is None:
                _write(self.pin_path(db), {"db": db, "log_id": checkpoint.log_id})
            if current is not None and current.size >= checkpoint.size:
                if current.size == checkpoint.size and current.root != checkpoint.root:
                    raise AuditError(f"the witness holds another root for {current.size} records: the trail forked")
                return
            _write(path, {**checkpoint.to_json(), "db": db})


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        yield


def _write(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.chmod(0o600)
    tmp.replace(path)
