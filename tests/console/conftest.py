"""What the console's tests share: a governed run's trail, the console as a user starts it, and Chromium.

The browser is Debian's `chromium`, driven by playwright (whose own browser download is not available here);
`scripts/ensure-chromium` installs it, and without it these tests fail and say so rather than skip. A governed
run on the scripted model fills one trail for the module, under its own HOME and key, so every page is read
from records the real CLI and hook wrote.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from magistrate.sdk.scripted_model import ScriptedModel
from tests._harness import CliRun, run_cli
from tests.e2e._cases import ASK, AUTO_APPROVED

POLICY = textwrap.dedent(
    """
    from magistrate.broker import RulePolicy

    policy = RulePolicy(
        default="allow",
        deny=["Bash(ls:*)", "Bash(cat:*)", "Edit(./locked.txt)"],
        ask=["Bash(touch:*)"],
    )
    """
)
SCENARIO = {"rules": [AUTO_APPROVED, ASK], "default": {"turns": ["nothing to do"]}}
SCREENSHOTS = "MAGISTRATE_SCREENSHOTS"
"""When set, a directory the browser tests also save their screenshots to (scripts/refresh-screenshots)."""


@dataclass(frozen=True)
class Governed:
    """A governed plain `claude` setup: its files, its environment, and how to run it."""

    root: Path
    workspace: Path
    home: Path
    env: dict[str, str]
    """XDG directories of its own: the hook and the console read the same key."""
    claude_args: list[str]

    @property
    def trail(self) -> Path:
        return self.root / "trail.sqlite3"

    @property
    def queue(self) -> Path:
        return self.root / "asks.sqlite3"

    @property
    def key(self) -> Path:
        return Path(self.env["XDG_CONFIG_HOME"]) / "magistrate" / "trail.key"

    def magistrate(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "magistrate.cli", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, **self.env},
        )

    def run(self, prompt: str, model: ScriptedModel, *extra: str) -> CliRun:
        args = [*self.claude_args, *extra]
        return run_cli(prompt, model=model, home=self.home, cwd=self.workspace, args=args, env=self.env, timeout=150)


def governed_setup(root: Path) -> Governed:
    """A policy, a workspace and the files `magistrate settings` writes, under `root`."""
    workspace, home = root / "ws", root / "home"
    workspace.mkdir(parents=True)
    home.mkdir()
    (workspace / "notes.txt").write_text("private notes\n")
    (root / "policy.py").write_text(POLICY)
    env = {"XDG_CONFIG_HOME": str(root / "config"), "XDG_STATE_HOME": str(root / "state"), "HOME": str(home)}
    setup = Governed(root, workspace, home, env, [])
    done = setup.magistrate(
        *("settings", "--policy", str(root / "policy.py"), "--db", str(setup.trail)),
        *("--out", str(root / "cfg"), "--approval-queue", str(setup.queue)),
    )
    assert done.returncode == 0, done.stderr
    command, *args = shlex.split(done.stdout)
    assert command == "claude"
    return Governed(root, workspace, home, env, args)


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Governed:
    """A trail filled by one governed run: a denied read-only command, a denied allowed-tools command, a
    denied write under acceptEdits, and an allowed echo with its outcome."""
    setup = governed_setup(tmp_path_factory.mktemp("governed"))
    scenario = json.loads(json.dumps(SCENARIO).replace("{cwd}", str(setup.workspace)))
    with ScriptedModel(scenario) as model:
        run = setup.run(
            "auto-approved calls",
            model,
            *("--allowedTools", "Bash(cat:*)", "--permission-mode", "acceptEdits"),
        )
    assert run.returncode == 0, run.stderr
    return setup


@dataclass
class Console:
    """A running `magistrate console` and the address it printed."""

    url: str
    process: subprocess.Popen[str]


def _serving_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The line where the console says its address (it may say first that the trail is not there yet)."""
    found: list[str] = []

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            found.append(line)
            if "serving http://" in line:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    assert found, "magistrate console printed nothing"
    assert "serving http://" in found[-1], f"magistrate console did not start: {found}"
    return found[-1]


@pytest.fixture
def start_console() -> Iterator[Callable[..., Console]]:
    """Starts `magistrate console ARGS --port 0` and waits for its address; stopped after the test."""
    started: list[subprocess.Popen[str]] = []

    def start(governed: Governed, *args: str) -> Console:
        process = subprocess.Popen(
            [sys.executable, "-m", "magistrate.cli", "console", "--port", "0", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **governed.env},
        )
        started.append(process)
        line = _serving_line(process, 30)
        return Console(line.split("serving ", 1)[1].split(" ", 1)[0].rstrip("/"), process)

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium through playwright; a clear failure when it is not installed. Per module:
    playwright's sync API keeps an event loop running on this thread, which no later `anyio.run` may meet."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: the browser tests need it (run scripts/ensure-chromium as root)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Callable[[Page, str], Path]:
    """Saves a page's screenshot under the test's tmp dir (and to $MAGISTRATE_SCREENSHOTS when set)."""

    def take(page: Page, name: str) -> Path:
        path = tmp_path / "screenshots" / f"{name}.png"
        path.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        keep = os.environ.get(SCREENSHOTS)
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, Path(keep) / path.name)
        return path

    return take
