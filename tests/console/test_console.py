"""`magistrate console` in headless Chromium: what an auditor and an approver see and do on its pages.

The trail comes from governed runs of the real CLI on the scripted model. The pages are read as a person
reads them (links by their labels, the buttons `Approve` and `Deny`) and through the `data-testid` contract;
every expectation is a bounded wait, never a sleep.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from magistrate.broker import ApprovalRecord, AskRequest, DecisionRecord, parse_record
from magistrate.sdk.scripted_model import ScriptedModel
from magistrate.servers import ApprovalQueue
from tests._harness import CliRun, exported_records
from tests.console.conftest import SCENARIO, Console, Governed, governed_setup

WAIT_MS = 30_000


def exported(governed: Governed, trail: Path | None = None) -> list[dict[str, Any]]:
    done = governed.magistrate("audit", "export", "--db", str(trail or governed.trail))
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def console_for(start: Callable[..., Console], governed: Governed, trail: Path | None = None, *extra: str) -> Console:
    return start(
        governed,
        *("--db", str(trail or governed.trail), "--queue", str(governed.queue), "--key", str(governed.key)),
        *("--policy", str(governed.root / "policy.py"), *extra),
    )


def open_page(browser: Browser, url: str) -> Page:
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    page.set_default_timeout(WAIT_MS)
    page.goto(url)
    return page


def rows(page: Page) -> list[str]:
    return page.get_by_test_id("decision-row").all_inner_texts()


def test_overview_decisions_filters_and_one_record_with_its_proof(
    governed: Governed, start_console: Callable[..., Console], browser: Browser, screenshots: Callable[..., Path]
) -> None:
    records = exported(governed)
    decisions = [r for r in records if r["record"]["kind"] == "decision"]
    session = decisions[0]["record"]["session_id"]
    console = console_for(start_console, governed)
    page = open_page(browser, console.url + "/")

    status = page.get_by_test_id("trail-status")
    expect(status).to_have_attribute("data-state", "intact")
    expect(status).to_contain_text(f"{len(records)} records verified")
    expect(page.locator("main")).to_contain_text(session)  # the session, in full, among the sessions
    screenshots(page, "overview")
    expect(page.get_by_role("link", name="Approvals")).to_have_count(1)

    page.get_by_role("link", name="Decisions").click()  # the one link so labelled
    expect(page.get_by_test_id("decision-row")).to_have_count(len(decisions))
    by_command = {r: text for text in rows(page) for r in ("ls", "cat notes.txt", "echo fine") if f'"{r}"' in text}
    assert "Bash(ls:*)" in by_command["ls"]
    assert "policy.py:" in by_command["ls"]  # the rule, with where it was written
    assert "deny" in by_command["cat notes.txt"]
    assert "allow" in by_command["echo fine"]
    assert "success" in by_command["echo fine"]  # the linked outcome
    screenshots(page, "decisions")

    page.get_by_label("decision").select_option("deny")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("decision-row")).to_have_count(3)
    assert "decision=deny" in page.url
    shared = open_page(browser, page.url)  # the filtered page's URL, opened elsewhere, shows the same
    expect(shared.get_by_test_id("decision-row")).to_have_count(3)
    shared.close()

    def filtered(**query: str) -> list[str]:
        page.goto(f"{console.url}/decisions?{urllib.parse.urlencode(query)}")
        expect(page.get_by_test_id("decisions")).to_be_visible()
        return rows(page)

    [write] = filtered(tool="Write")
    assert "Edit(./locked.txt)" in write
    assert len(filtered(tool="Bash")) == 3
    assert len(filtered(session=session[:8])) == len(decisions)  # a prefix of the session id
    assert filtered(session="no-such-session") == []
    assert len(filtered(rule="Bash(ls")) == 1
    [found] = filtered(q="ECHO FINE")
    assert "success" in found
    assert len(filtered(since="1d")) == len(decisions)
    assert filtered(until="2000-01-01") == []
    assert len(filtered(since="2000-01-01", until="2999-01-01", decision="allow")) == 1
    page.goto(console.url + "/decisions?since=yesterday-ish")
    expect(page.get_by_test_id("error")).to_contain_text("not a time")

    echo = next(d for d in decisions if d["record"]["input"].get("command") == "echo fine")
    filtered(q="echo fine")
    page.get_by_role("link", name=str(echo["seq"]), exact=True).click()
    expect(page.get_by_test_id("record-proof")).to_have_attribute("data-state", "intact")
    expect(page.get_by_test_id("record-leaf")).to_have_text(echo["leaf"])
    expect(page.locator("main")).to_contain_text(f"signed tree of {len(records)} records")
    expect(page.locator("main")).to_contain_text("outcome")  # the linked outcome, in the same call's records
    page.get_by_role("link", name="Policy").click()
    recorded = parse_record(json.dumps(echo["record"]).encode())
    assert isinstance(recorded, DecisionRecord)
    expect(page.get_by_test_id("policy-version")).to_have_text(recorded.decision.policy_version)
    expect(page.locator("main")).to_contain_text("Bash(touch:*)")
    page.close()


def test_an_ask_is_approved_with_the_button_while_the_agent_waits(
    tmp_path: Path, start_console: Callable[..., Console], browser: Browser, screenshots: Callable[..., Path]
) -> None:
    governed = governed_setup(tmp_path / "asking")
    console = console_for(start_console, governed)
    page = open_page(browser, console.url + "/approvals")
    expect(page.get_by_test_id("no-pending")).to_be_visible()

    runs: list[CliRun] = []
    with ScriptedModel(SCENARIO) as model:
        agent = threading.Thread(target=lambda: runs.append(governed.run("ask first", model)), daemon=True)
        agent.start()
        try:
            ask = page.get_by_test_id("pending-ask")  # appears without a reload: the page polls
            expect(ask).to_have_count(1, timeout=120_000)
            expect(ask).to_contain_text("touch approved.txt")
            expect(ask).to_contain_text("Bash(touch:*)")
            assert agent.is_alive()  # the agent is waiting for this answer
            ask.get_by_label("note").fill("ticket OPS-12")
            ask.get_by_label("your name").fill("ana")
            screenshots(page, "approvals")
            ask.get_by_role("button", name="Approve").click()
            expect(page.get_by_test_id("notice")).to_contain_text("approved by ana")
            expect(page.get_by_test_id("no-pending")).to_be_visible()
        finally:
            agent.join(150)
    [run] = runs
    assert run.returncode == 0, run.stderr
    assert (governed.workspace / "approved.txt").exists()  # the agent continued and ran the call

    done = governed.magistrate("audit", "export", "--db", str(governed.trail))
    [approval] = [r.approval for r in exported_records(done.stdout) if isinstance(r, ApprovalRecord)]
    assert (approval.behavior, approval.approver, approval.note) == ("allow", "queue:ana", "ticket OPS-12")
    page.goto(console.url + "/decisions?decision=ask")
    [row] = rows(page)
    assert "queue:ana" in row
    assert "ticket OPS-12" in row
    assert "success" in row
    page.close()


def test_a_tampered_trail_turns_the_status_red(
    governed: Governed, tmp_path: Path, start_console: Callable[..., Console], browser: Browser
) -> None:
    copy = tmp_path / "trail.sqlite3"
    with closing(sqlite3.connect(governed.trail)) as source, closing(sqlite3.connect(copy)) as target:
        source.backup(target)
    console = console_for(start_console, governed, copy)
    page = open_page(browser, console.url + "/")
    expect(page.get_by_test_id("trail-status")).to_have_attribute("data-state", "intact")

    echo = next(r for r in exported(governed, copy) if r["record"].get("input", {}).get("command") == "echo fine")
    with closing(sqlite3.connect(copy)) as db, db:
        [(body,)] = db.execute("SELECT body FROM trail_records WHERE seq = ?", (echo["seq"],)).fetchall()
        db.execute(
            "UPDATE trail_records SET body = ? WHERE seq = ?",
            (bytes(body).replace(b"echo fine", b"echo FINE"), echo["seq"]),
        )
    page.reload()
    status = page.get_by_test_id("trail-status")
    expect(status).to_have_attribute("data-state", "failed")
    expect(status).to_contain_text(f"record {echo['seq']}")
    page.get_by_role("link", name=f"record {echo['seq']}").click()
    expect(page.locator("main")).to_contain_text("no longer hashes to its leaf")
    page.close()


def test_beyond_loopback_a_token_is_required(
    governed: Governed, start_console: Callable[..., Console], browser: Browser
) -> None:
    refused = governed.magistrate("console", "--db", str(governed.trail), "--host", "0.0.0.0", "--port", "0")
    assert refused.returncode == 2
    assert "needs a bearer token" in refused.stderr
    console = console_for(start_console, governed, None, "--token", "s3cret")
    with pytest.raises(urllib.error.HTTPError) as refused_page:
        urllib.request.urlopen(console.url + "/", timeout=30)
    assert refused_page.value.code == 401
    refused_page.value.close()
    asked = urllib.request.Request(console.url + "/", headers={"Authorization": "Bearer s3cret"})
    with urllib.request.urlopen(asked, timeout=30) as answer:
        assert b'data-testid="trail-status"' in answer.read()
    # In a browser: the token once in the URL, then a cookie; the address bar drops it.
    page = open_page(browser, console.url + "/?token=s3cret")
    expect(page.get_by_test_id("trail-status")).to_have_attribute("data-state", "intact")
    assert "token" not in page.url
    page.get_by_role("link", name="Approvals").click()
    expect(page.get_by_role("heading", name="Approvals")).to_be_visible()
    page.close()


def test_deny_with_a_note_and_a_form_from_elsewhere_is_refused(
    tmp_path: Path, start_console: Callable[..., Console], browser: Browser
) -> None:
    governed = governed_setup(tmp_path / "denying")
    queue = ApprovalQueue(governed.queue)
    console = console_for(start_console, governed)
    page = open_page(browser, console.url + "/approvals")
    waiting = queue.submit(AskRequest("Bash", {"command": "touch x"}, "toolu_9", "s9", "asks", "Bash(touch:*)"))
    ask = page.get_by_test_id("pending-ask")
    expect(ask).to_have_count(1)
    expect(ask).to_contain_text(waiting)
    ask.get_by_label("note").fill("not on a Friday")
    ask.get_by_role("button", name="Deny").click()
    expect(page.get_by_test_id("notice")).to_contain_text(f"{waiting} denied by")
    row = queue.get(waiting)
    assert row is not None
    assert (row.status, row.note) == ("denied", "not on a Friday")

    other = queue.submit(AskRequest("Bash", {"command": "touch y"}, "toolu_10", "s9", "asks", "Bash(touch:*)"))
    forged = urllib.request.Request(
        f"{console.url}/approvals/{other}", data=b"answer=approve&csrf=guess", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=30)
    assert refused.value.code == 403
    refused.value.close()
    still = queue.get(other)
    assert still is not None
    assert still.status == "pending"
    page.close()
