"""A trail that is refused on opening leaves no database handle behind.

A long-lived process (the broker, the console) retries an unreadable trail; every leaked connection would
hold the file open until the garbage collector finds it, and Python 3.13 reports each one as a
`ResourceWarning`. The open file descriptors of this process are the witness.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from magistrate.broker import AuditError, Trail, TrailReader


def _handles_on(path: Path) -> int:
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = fd.readlink()
        except OSError:
            continue
        count += str(target).startswith(str(path))
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to count open files")
def test_a_file_that_is_not_a_trail_is_refused_and_closed(tmp_path: Path) -> None:
    junk = tmp_path / "trail.sqlite3"
    junk.write_bytes(b"this is not a database, " * 200)
    for _ in range(3):
        with pytest.raises(AuditError):
            TrailReader.open(junk)
        with pytest.raises(AuditError):
            Trail.open(junk, key_path=tmp_path / "keys" / "trail.key")
    assert _handles_on(junk) == 0
