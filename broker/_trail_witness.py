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

A writer moves the witness on off the path of the call (`advance_soon`): a background thread writes the
latest checkpoint at most once every `LAG` seconds, and `settle` (on closing the trail) writes what is still
due. The witness is advisory, and always a prefix of what is committed (it is written after the commit), so
a crash only leaves it a little behind; meanwhile this writer's own checks and reads through this object
count the checkpoint still due as seen.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from magistrate.broker._signing import Checkpoint
from magistrate.broker._trail_errors import AuditError

_K = TypeVar("_K")
_S = TypeVar("_S")
_V = TypeVar("_V")

_ADVICE = "refusing to append; run `magistrate audit verify`"
LAG = 0.1
"""Seconds a background write of the witness waits for later checkpoints, so a busy writer writes it a few
times a second instead of once per commit."""


class Witness:
    """The witness files in one directory: one signed tree head per trail (by log id), one pin per database."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: dict[Path, tuple[tuple[int, int, int], Checkpoint | None]] = {}
        self._pins: dict[str, tuple[tuple[int, int, int] | None, str | None]] = {}
        self._due: tuple[Checkpoint, str | None] | None = None
        """The latest checkpoint committed and not yet written (`advance_soon`), with its database."""
        self._wake = threading.Condition()
        self._writing = threading.Lock()
        """Held while a due checkpoint is taken and written, so `settle` returns only once it is on disk."""
        self._writer: threading.Thread | None = None
        self._closed = False
        self.on_error: Callable[[BaseException], None] | None = None
        """Told of a background write that failed (the trail logs it); the next write tries again."""

    @classmethod
    def beside(cls, key_path: Path) -> Witness:
        return cls(key_path.with_name(key_path.name.removesuffix(".key") + ".witness"))

    def path(self, log_id: str) -> Path:
        return self.directory / f"{log_id}.json"

    def pin_path(self, db: str) -> Path:
        return self.directory / f"db-{hashlib.sha256(db.encode()).hexdigest()[:24]}.json"

    # -- reading -------------------------------------------------------------------------------------------
    def read(self, log_id: str) -> Checkpoint | None:
        """The checkpoint held for trail `log_id` (after writing any this object still has due)."""
        self.settle()
        return self._read(log_id)

    def _read(self, log_id: str) -> Checkpoint | None:
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
        return _unless_unchanged(self._cache, path, (st.st_ino, st.st_mtime_ns, st.st_size), lambda: self._read(log_id))

    def _pinned_cached(self, db: str) -> str | None:
        """`pinned`, skipped while the pin file is unchanged (and, without a pin file, while the directory is)."""
        path = self.pin_path(db)
        try:
            st = path.stat()
            stamp: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            try:
                st = self.directory.stat()
            except FileNotFoundError:
                return self._pinned(db)
            except OSError as exc:
                raise AuditError(f"cannot read the witness {self.directory}: {exc}") from exc
            stamp = (-st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError as exc:
            raise AuditError(f"the witness pin {path} is unreadable: {exc}") from exc
        return _unless_unchanged(self._pins, db, stamp, lambda: self._pinned(db))

    def pinned(self, db: str) -> str | None:
        """The log id of the trail pinned at database location `db`, if one is.

        A witness from before pins existed says so through the `db` its checkpoints name: when they name one
        trail only, that trail is the one pinned."""
        self.settle()
        return self._pinned(db)

    def _pinned(self, db: str) -> str | None:
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
        self.settle()
        pinned = self._pinned(db)
        if pinned is not None and pinned != log_id:
            other = self._read(pinned)
            if other is not None:
                return other
        return self._read(log_id)

    # -- the writer's checks -------------------------------------------------------------------------------
    def check(self, db: str, log_id: str, size: int, root: bytes, signed_root: Callable[[int], bytes | None]) -> None:
        """Raise `AuditError` unless the trail (`log_id` at `db`, `size` records with root `root`) is the one
        pinned at `db` and extends the tree head the witness holds. `signed_root(n)`: the root of the trail's
        own stored checkpoint for `n` records (None when there is none). A checkpoint this object still has
        due counts as seen (it is larger than what the files hold)."""
        due = self._due
        pinned = self._pinned_cached(db)
        if pinned is None and due is not None and due[1] == db:
            pinned = due[0].log_id  # the pin this writer is about to write
        if pinned is not None and pinned != log_id:
            raise AuditError(
                f"the trail at {db} was replaced: the witness pins trail {pinned} there, but this is trail {log_id}"
                f" ({_ADVICE}; to start a new trail there on purpose, remove {self.pin_path(db)})"
            )
        seen = self._read_cached(log_id)
        if due is not None and due[0].log_id == log_id and (seen is None or due[0].size > seen.size):
            seen = due[0]
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
                current = self._read(checkpoint.log_id)
            except AuditError:
                current = None  # a torn witness is replaced by a good one
            if db is not None and self._pinned(db) is None:
                _write(self.pin_path(db), {"db": db, "log_id": checkpoint.log_id})
            if current is not None and current.size >= checkpoint.size:
                if current.size == checkpoint.size and current.root != checkpoint.root:
                    raise AuditError(f"the witness holds another root for {current.size} records: the trail forked")
                return
            _write(path, {**checkpoint.to_json(), "db": db})

    def advance_soon(self, checkpoint: Checkpoint, db: str | None = None) -> None:
        """`advance`, in the background: returns at once; the latest checkpoint given is written within about
        `LAG` seconds, or by `settle`."""
        with self._wake:
            current = self._due
            idle = current is None
            if current is None or checkpoint.size >= current[0].size:
                self._due = (checkpoint, db)
            if self._writer is None and not self._closed:
                self._writer = threading.Thread(target=self._write_due, name="magistrate-witness", daemon=True)
                self._writer.start()
            if idle:
                self._wake.notify()

    def settle(self) -> None:
        """Write the checkpoint still due now. A failure is told to `on_error`: the witness is advisory, and
        the checkpoints stay in the database."""
        with self._writing:
            with self._wake:
                due, self._due = self._due, None
            if due is not None:
                self._advance_due(due)

    def close(self) -> None:
        """Stop the background writer and write what is still due."""
        with self._wake:
            self._closed = True
            writer, self._writer = self._writer, None
            self._wake.notify()
        if writer is not None and writer is not threading.current_thread():
            writer.join()
        self.settle()

    def _advance_due(self, due: tuple[Checkpoint, str | None]) -> None:
        try:
            self.advance(*due)
        except (OSError, AuditError) as exc:
            if self.on_error is not None:
                self.on_error(exc)

    def _write_due(self) -> None:
        while True:
            with self._wake:
                while self._due is None and not self._closed:
                    self._wake.wait()
                deadline = time.monotonic() + LAG  # later commits coalesce into one write
                while not self._closed and (left := deadline - time.monotonic()) > 0:
                    self._wake.wait(left)
                if self._closed:
                    return  # `close` writes what is due
            self.settle()


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


def _unless_unchanged(cache: dict[_K, tuple[_S, _V]], key: _K, stamp: _S, load: Callable[[], _V]) -> _V:
    """What `load` gave for `key` when the file was last seen with this `stamp`; loaded (and kept) anew
    when the stamp differs."""
    cached = cache.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    found = load()
    cache[key] = (stamp, found)
    return found
