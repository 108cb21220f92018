"""The command lines over the servers: `compliance`, `documents`, and the checks `serve` makes before serving."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from mcp import Client

from magistrate.cli._main import main
from magistrate.cli._serve import SERVERS, build
from magistrate.servers._compliance import open_compliance
from magistrate.servers._documents import open_documents


@pytest.fixture(autouse=True)
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data" / "magistrate"


def test_default_locations_are_per_user(data_home: Path) -> None:
    assert main(["compliance", "frameworks"]) == 0
    assert main(["documents", "list"]) == 0
    assert (data_home / "compliance.sqlite3").exists()
    assert (data_home / "documents.sqlite3").exists()


def test_import_reports_every_bad_row_and_writes_nothing(
    tmp_path: Path, data_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "acme.csv"
    bad.write_text(
        "framework,id,title,text,tags\n"
        "acme,ACME-1,Encrypt backups,All backups are encrypted at rest.,backup;encryption\n"
        "acme,ACME-2,,No title here,\n"
        "acme,bad id!,Title,Text,\n"
        "acme,ACME-1,Again,Duplicate id,\n"
    )
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main(["compliance", "import", str(bad), str(broken)]) == 1
    err = capsys.readouterr().err
    assert "row 3: title: String should have at least 1 character" in err
    assert "row 4: id: String should match pattern" in err
    assert "row 5: id ACME-1 repeats row 2" in err
    assert "broken.json: 1 problem(s), nothing imported:\nnot valid JSON" in err
    with open_compliance(str(data_home / "compliance.sqlite3")) as repo:
        assert [fw.id for fw in repo.frameworks()] == ["gdpr", "soc2"]


def test_import_json_and_yaml(tmp_path: Path, data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    framework = {
        "id": "iso27001",
        "name": "ISO/IEC 27001:2022 Annex A (excerpt)",
        "requirements": [{"id": "ISO-A.8.13", "ref": "A.8.13", "title": "Information backup", "text": "Backups."}],
    }
    (tmp_path / "iso.json").write_text(json.dumps({"frameworks": [framework]}))
    (tmp_path / "house.yaml").write_text(
        "id: house\nname: House rules\nrequirements:\n  - id: HOUSE-1\n    title: Retention\n"
        "    text: Delete customer data within 30 days of termination.\n    tags: [retention]\n"
    )
    assert main(["compliance", "import", str(tmp_path / "iso.json"), str(tmp_path / "house.yaml")]) == 0
    assert "imported 2 requirement(s) in 2 framework(s)" in capsys.readouterr().out
    with open_compliance(str(data_home / "compliance.sqlite3")) as repo:
        assert repo.search("retention termination", "house", 5)[0].id == "HOUSE-1"
        assert repo.requirement("ISO-A.8.13").framework == "iso27001"


def test_samples_reload_and_an_empty_import(data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compliance", "import", "--samples"]) == 0
    assert "imported 119 requirement(s) in 2 framework(s): gdpr, soc2" in capsys.readouterr().out
    assert main(["compliance", "import"]) == 2


def test_waive(data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compliance", "waive", "SOC2-A1", "--reason", "pilot", "--by", "ciso", "--until", "2999-01-01"]) == 0
    assert "until 2999-01-01T00:00:00Z" in capsys.readouterr().out
    assert main(["compliance", "waive", "NOPE-1", "--reason", "r", "--by", "b", "--until", "2999-01-01"]) == 1
    assert main(["compliance", "waive", "SOC2-A1", "--reason", "r", "--by", "b", "--until", "soon"]) == 2


def test_documents_add_extracts_labels_and_versions(
    tmp_path: Path, data_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    msa = tmp_path / "msa.md"
    msa.write_text("# Master services agreement\nLiability is capped.\n")
    args = ["documents", "add", str(msa), "--label", "contract", "--label", "confidential", "--prefix", "contracts/"]
    assert main(args) == 0
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("added\tcontracts/msa.md@1\t")
    assert out[1].startswith("unchanged\tcontracts/msa.md@1\t")
    with open_documents(str(data_home / "documents.sqlite3")) as store:
        assert store.labels("contracts/msa.md") == {"confidential", "contract"}


def test_documents_add_is_all_or_nothing(tmp_path: Path, data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.txt"
    good.write_text("fine")
    bad = tmp_path / "photo.png"
    bad.write_bytes(b"\x89PNG")
    assert main(["documents", "add", str(good), str(bad), "--label", "Bad Label"]) == 1
    err = capsys.readouterr().err
    assert "unsupported file type .png" in err
    assert "labels.0: String should match pattern" in err
    with open_documents(str(data_home / "documents.sqlite3")) as store:
        assert store.list_documents(None, None, 10) == []


def test_documents_add_refuses_two_files_under_one_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "notes.md").write_text(folder)
    assert main(["documents", "add", str(tmp_path / "a" / "notes.md"), str(tmp_path / "b" / "notes.md")]) == 1
    assert "notes.md: two files would be stored under this name" in capsys.readouterr().err


def test_serve_says_why_a_policy_did_not_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "policy.py"
    broken.write_text("rules = (\n")
    assert main(["serve", "approval", "--policy", str(broken), "--db", str(tmp_path / "trail.sqlite3")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("magistrate serve: the policy did not load")
    assert "Traceback" not in err


def test_serve_refuses_to_expose_without_a_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MAGISTRATE_SERVER_TOKEN", raising=False)
    assert main(["serve", "documents", "--transport", "http", "--host", "0.0.0.0"]) == 2
    assert "needs a bearer token" in capsys.readouterr().err


@pytest.mark.anyio
async def test_every_registered_server_builds_and_serves(tmp_path: Path) -> None:
    for name in ("compliance", "documents"):
        assert name in SERVERS
        server = build(name, str(tmp_path / f"{name}.sqlite3"))
        assert server.name == {"compliance": "compliance_db", "documents": "documents"}[name]
        with anyio.fail_after(20):
            async with Client(server) as client:  # serving once also closes what the factory opened
                assert (await client.list_tools()).tools
