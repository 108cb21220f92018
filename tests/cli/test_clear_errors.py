"""Bad databases, bad ports and missing folders give one clear line and a non-zero exit: no traceback, and
nothing is created on the way."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "examples" / "scenarios" / "greeting.json"


def magistrate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_DATA_HOME": str(cwd / "data"), "XDG_STATE_HOME": str(cwd / "state")}
    env.pop("MAGISTRATE_APPROVAL_QUEUE", None)
    return subprocess.run(
        [sys.executable, "-m", "magistrate.cli", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_clear_error(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert done.returncode in (1, 2), (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    assert "Error:" not in done.stderr.replace("error:", ""), done.stderr
    for text in expected:
        assert text in done.stderr, done.stderr


def files(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}


# Every command that opens one of these stores, with `{db}` where the database goes.
STORE_COMMANDS = [
    pytest.param("compliance --db {db} frameworks", id="compliance-frameworks"),
    pytest.param("compliance --db {db} import --samples", id="compliance-import"),
    pytest.param("compliance --db {db} waive GDPR-17 --reason r --by b --until 2030-01-01", id="compliance-waive"),
    pytest.param("documents --db {db} list", id="documents-list"),
    pytest.param("documents --db {db} add note.md", id="documents-add"),
    pytest.param("approvals list --db {db}", id="approvals-list"),
    pytest.param("approvals approve 0123456789ab --db {db}", id="approvals-approve"),
    pytest.param("approvals deny 0123456789ab --db {db}", id="approvals-deny"),
]
AUDIT_COMMANDS = [
    pytest.param("audit verify --db {db}", id="audit-verify"),
    pytest.param("audit show --db {db}", id="audit-show"),
    pytest.param("audit tail --db {db}", id="audit-tail"),
    pytest.param("audit export --db {db}", id="audit-export"),
]


def _random_bytes(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 40)


def _sqlite_header_then_garbage(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + b"\xa5" * 8000)


def _real_store_with_broken_pages(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE filler (x TEXT)")
    conn.executemany("INSERT INTO filler VALUES (?)", [("x" * 500,) for _ in range(200)])
    conn.commit()
    conn.close()
    data = bytearray(path.read_bytes())
    data[108:1000] = b"\xff" * 892  # the schema's page, past the file header
    for page in range(4096, len(data), 4096):
        data[page + 8 : page + 400] = b"\xff" * 392
    path.write_bytes(bytes(data))


def _another_programs_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE magistrate_schema (something TEXT)")
    conn.execute("CREATE TABLE documents (x)")
    conn.execute("CREATE TABLE trail_meta (y)")
    conn.commit()
    conn.close()


def _truncated(path: Path) -> None:
    _real_store_with_broken_pages(path)
    path.write_bytes(path.read_bytes()[:5000])


CORRUPTIONS = [_random_bytes, _sqlite_header_then_garbage, _real_store_with_broken_pages, _another_programs_database]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "note.md").write_text("# A note\nSome text.\n", "utf-8")
    return tmp_path


@pytest.mark.parametrize("corrupt", [*CORRUPTIONS, _truncated], ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("command", [*STORE_COMMANDS, *AUDIT_COMMANDS])
def test_a_corrupt_database_is_one_clear_line(workdir: Path, command: str, corrupt: object) -> None:
    db = workdir / "store.sqlite3"
    assert callable(corrupt)
    corrupt(db)
    before = files(workdir)
    done = magistrate(*command.format(db=db).split(), cwd=workdir)
    assert_clear_error(done, "magistrate")
    assert done.returncode == 2  # a store that cannot be read is an input the command cannot read, as for audit
    assert files(workdir) - before <= {"data", "state", "data/magistrate", "state/magistrate"}


@pytest.mark.parametrize("command", STORE_COMMANDS)
def test_a_db_in_a_missing_folder_is_an_error_and_no_folder_is_made(workdir: Path, command: str) -> None:
    db = workdir / "no" / "such" / "folder" / "store.sqlite3"
    done = magistrate(*command.format(db=db).split(), cwd=workdir)
    assert_clear_error(done, "does not exist")
    assert done.returncode == 2
    assert not (workdir / "no").exists()


SERVE_COMMANDS = [
    pytest.param("serve compliance --db {db}", id="serve-compliance"),
    pytest.param("serve documents --db {db}", id="serve-documents"),
    pytest.param("serve approval --transport http --port 0 --db {db}", id="serve-broker"),
]


@pytest.mark.parametrize("command", SERVE_COMMANDS)
def test_a_server_given_a_db_in_a_missing_folder_refuses_to_start(workdir: Path, command: str) -> None:
    db = workdir / "no" / "such" / "store.sqlite3"
    done = magistrate(*command.format(db=db).split(), cwd=workdir)
    assert done.returncode == 2
    assert_clear_error(done, "does not exist")
    assert not (workdir / "no").exists()


@pytest.mark.parametrize("command", AUDIT_COMMANDS)
def test_a_trail_in_a_missing_folder_is_an_error_and_no_folder_is_made(workdir: Path, command: str) -> None:
    db = workdir / "no" / "such" / "trail.sqlite3"
    done = magistrate(*command.format(db=db).split(), cwd=workdir)
    assert_clear_error(done)
    assert not (workdir / "no").exists()


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


# Every command that takes --port, with `{port}` where the port goes.
PORT_COMMANDS = [
    pytest.param(f"scripted-model --scenario {SCENARIO} --port {{port}}", id="scripted-model"),
    pytest.param("serve documents --transport http --db {db} --port {port}", id="serve-documents"),
    pytest.param("serve compliance --transport http --db {db} --port {port}", id="serve-compliance"),
    pytest.param("serve approval --transport http --db {db} --port {port}", id="serve-approval"),
]


@pytest.mark.parametrize("port", ["abc", "80x", "", "1.5", "-1", "65536", "99999999999999999999"])
@pytest.mark.parametrize("command", PORT_COMMANDS)
def test_a_port_that_is_not_a_port_number_is_a_usage_error(workdir: Path, command: str, port: str) -> None:
    db = workdir / "store.sqlite3"
    done = magistrate(*command.format(db=db, port="PORT").split()[:-1], port, cwd=workdir)
    assert done.returncode == 2
    assert_clear_error(done, "--port")
    assert not db.exists()


@pytest.mark.parametrize("command", PORT_COMMANDS)
def test_a_busy_port_is_one_clear_line_and_nothing_is_made(workdir: Path, command: str, busy_port: int) -> None:
    db = workdir / "store.sqlite3"
    done = magistrate(*command.format(db=db, port=busy_port).split(), cwd=workdir)
    assert_clear_error(done, f"cannot listen on 127.0.0.1:{busy_port}", "in use")
    assert "ExceptionGroup" not in done.stderr
    assert not db.exists()


def test_an_unknown_host_is_one_clear_line(workdir: Path) -> None:
    done = magistrate("scripted-model", "--scenario", str(SCENARIO), "--host", "no-such-host.invalid", cwd=workdir)
    assert_clear_error(done, "cannot listen on no-such-host.invalid")


def test_a_csv_field_past_the_csv_limit_is_a_clear_import_problem(workdir: Path) -> None:
    huge = workdir / "huge.csv"
    huge.write_text(f'framework,id,title,text\nacme,ACME-1,Title,"{"x" * 200_000}"\n', "utf-8")
    db = workdir / "compliance.sqlite3"
    done = magistrate("compliance", "--db", str(db), "import", str(huge), cwd=workdir)
    assert_clear_error(done, "line 2: a field is longer than 131072 characters", "nothing imported")
    assert not db.exists()


def test_a_zip_bomb_is_refused_by_documents_add_and_nothing_is_added(workdir: Path) -> None:
    import zipfile

    bomb = workdir / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        part = zipfile.ZipInfo("word/document.xml")
        part.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(part, "w") as out:
            for _ in range(200):
                out.write(b"<w:p/>" * 100_000)
    db = workdir / "documents.sqlite3"
    done = magistrate("documents", "--db", str(db), "add", str(bomb), "note.md", cwd=workdir)
    assert_clear_error(done, "bomb.docx", "over the limit", "nothing added")
    assert not db.exists()
