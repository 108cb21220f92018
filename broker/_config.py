"""magistrate's configuration from the environment: every `MAGISTRATE_*` variable, read in one place.

Each entry point (a governed run, `magistrate …`, the hook, a server) reads the environment once into one
frozen `Environment` and passes it on, so no module deep inside consults `os.environ` on its own and two
parts can never disagree about what a variable means. The per-user directories come from platformdirs, which
follows the XDG base directory rules on Linux (`$XDG_STATE_HOME`, `$XDG_CONFIG_HOME`, `$XDG_DATA_HOME`) and
each platform's own conventions elsewhere.

`VARIABLES` lists every variable with what it does; the README's configuration table is held to it by a test.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

APP = "magistrate"

LogFormat = Literal["text", "json"]

VARIABLES: dict[str, str] = {
    "MAGISTRATE_APPROVAL_QUEUE": "the approval queue, a SQLite path or a `postgresql://` URL: when set, asks wait"
    " there for `magistrate approvals` unless `approver=` says otherwise (the default queue is"
    " `approvals.sqlite3` in the per-user state directory)",
    "MAGISTRATE_ASK_WEBHOOK": "a URL the broker POSTs every pending ask to (JSON: its id, the call, and how to"
    " answer it), for a chat notifier",
    "MAGISTRATE_AUDIT": "the audit trail, a SQLite path or a `postgresql://` URL (default `trail.sqlite3` in the"
    " per-user state directory)",
    "MAGISTRATE_BROKER": "the URL of a shared broker that decides and records instead of the run's own process",
    "MAGISTRATE_BROKER_TOKEN": "the bearer token a run presents to the shared broker",
    "MAGISTRATE_CLI_PATH": "the `claude` executable a run starts (default: the project's"
    " `node_modules/.bin/claude`, then `PATH`)",
    "MAGISTRATE_COMPLIANCE_DB": "the database of a governed run's `compliance_db` server (default"
    " `compliance.sqlite3` in the per-user data directory)",
    "MAGISTRATE_DOCUMENTS_DB": "the database of a governed run's `documents` server (default `documents.sqlite3`"
    " in the per-user data directory)",
    "MAGISTRATE_LOG_FORMAT": "`text` (key=value lines, the default) or `json` (one JSON object a line)",
    "MAGISTRATE_LOG_LEVEL": "`debug`, `info`, `warning` (the default) or `error`; logs go to stderr",
    "MAGISTRATE_POLICY": "the policy, a `policy.py` or a Claude Code settings JSON (default: the permissions the"
    " CLI itself would apply)",
    "MAGISTRATE_RUN_ID": "the run a compliance server started on its own records findings under",
    "MAGISTRATE_SERVER_TOKEN": "the bearer token a server started with `magistrate serve --transport http` requires",
    "MAGISTRATE_TRAIL_KEY": "the trail's Ed25519 signing key, a PEM file (default `trail.key` in the per-user"
    " configuration directory, created on first use)",
    "MAGISTRATE_TRAIL_TIMEOUT": "how long, in seconds, a trail append waits for a database another writer holds"
    " locked before the call is denied (default 10)",
    "MAGISTRATE_TRAIL_TRUSTED_KEYS": "other writers' public keys: PEM files, separated by the path separator"
    " (`:` on Linux and macOS)",
}
"""Every variable magistrate reads, with what it sets: the README's table of variables is this, row by row."""


DirKind = Literal["state", "config", "data"]
StoreName = Literal["compliance", "documents"]


def user_dir(kind: DirKind) -> Path:
    """magistrate's per-user directory of `kind`, by the platform's rules (platformdirs); on Linux
    `$XDG_STATE_HOME/magistrate` (else `~/.local/state/magistrate`), `$XDG_CONFIG_HOME/magistrate` (else
    `~/.config/magistrate`) and `$XDG_DATA_HOME/magistrate` (else `~/.local/share/magistrate`).

    The one place these directories are worked out: every default location hangs off one of them. Looked up
    on each call, from this process's environment as it is then."""
    import platformdirs

    if kind == "state":
        return platformdirs.user_state_path(APP, appauthor=False)
    if kind == "config":
        return platformdirs.user_config_path(APP, appauthor=False)
    return platformdirs.user_data_path(APP, appauthor=False)


@dataclass(frozen=True, slots=True)
class Environment:
    """What the environment says, once: each field is one `MAGISTRATE_*` variable (None when unset or empty).

    `Environment()`, with no variable set, is every default; the properties give the locations that follow.
    """

    policy: str | None = None
    """`MAGISTRATE_POLICY`."""
    audit: str | None = None
    """`MAGISTRATE_AUDIT`."""
    trail_key: str | None = None
    """`MAGISTRATE_TRAIL_KEY`."""
    trusted_keys: tuple[str, ...] = ()
    """`MAGISTRATE_TRAIL_TRUSTED_KEYS`, split on the path separator."""
    approval_queue: str | None = None
    """`MAGISTRATE_APPROVAL_QUEUE`."""
    broker: str | None = None
    """`MAGISTRATE_BROKER`."""
    broker_token: str | None = None
    """`MAGISTRATE_BROKER_TOKEN`."""
    server_token: str | None = None
    """`MAGISTRATE_SERVER_TOKEN`."""
    compliance_db: str | None = None
    """`MAGISTRATE_COMPLIANCE_DB`."""
    documents_db: str | None = None
    """`MAGISTRATE_DOCUMENTS_DB`."""
    run_id: str | None = None
    """`MAGISTRATE_RUN_ID`."""
    cli_path: str | None = None
    """`MAGISTRATE_CLI_PATH`."""
    log_level: str = "warning"
    """`MAGISTRATE_LOG_LEVEL`, lower-cased."""
    log_format: LogFormat = "text"
    """`MAGISTRATE_LOG_FORMAT`."""
    trail_timeout: str | None = None
    """`MAGISTRATE_TRAIL_TIMEOUT`, as written (the trail checks it when it opens)."""
    ask_webhook: str | None = None
    """`MAGISTRATE_ASK_WEBHOOK`."""

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> Environment:
        """The configuration `environ` (default: this process's environment) gives. The directories always
        follow this process's environment, which platformdirs reads."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            return env.get(name) or None

        trusted = tuple(p for p in (get("MAGISTRATE_TRAIL_TRUSTED_KEYS") or "").split(os.pathsep) if p.strip())
        log_format: LogFormat = "json" if (get("MAGISTRATE_LOG_FORMAT") or "").lower() == "json" else "text"
        return cls(
            policy=get("MAGISTRATE_POLICY"),
            audit=get("MAGISTRATE_AUDIT"),
            trail_key=get("MAGISTRATE_TRAIL_KEY"),
            trusted_keys=trusted,
            approval_queue=get("MAGISTRATE_APPROVAL_QUEUE"),
            broker=get("MAGISTRATE_BROKER"),
            broker_token=get("MAGISTRATE_BROKER_TOKEN"),
            server_token=get("MAGISTRATE_SERVER_TOKEN"),
            compliance_db=get("MAGISTRATE_COMPLIANCE_DB"),
            documents_db=get("MAGISTRATE_DOCUMENTS_DB"),
            run_id=get("MAGISTRATE_RUN_ID"),
            cli_path=get("MAGISTRATE_CLI_PATH"),
            log_level=(get("MAGISTRATE_LOG_LEVEL") or "warning").lower(),
            log_format=log_format,
            trail_timeout=get("MAGISTRATE_TRAIL_TIMEOUT"),
            ask_webhook=get("MAGISTRATE_ASK_WEBHOOK"),
        )

    # The directories are looked up when first needed: the log level is read on every `import magistrate.sdk`,
    # which must not pay for platformdirs.
    @property
    def state_dir(self) -> Path:
        """Per-user state: the trail and the approval queue (`~/.local/state/magistrate` on Linux)."""
        return user_dir("state")

    @property
    def config_dir(self) -> Path:
        """Per-user configuration: the signing key and the witness (`~/.config/magistrate` on Linux)."""
        return user_dir("config")

    @property
    def data_dir(self) -> Path:
        """Per-user data: the bundled servers' databases (`~/.local/share/magistrate` on Linux)."""
        return user_dir("data")

    @property
    def trail(self) -> str:
        """Where the trail is: `MAGISTRATE_AUDIT`, else `trail.sqlite3` in the state directory."""
        return self.audit or str(self.state_dir / "trail.sqlite3")

    @property
    def key_path(self) -> Path:
        """The signing key: `MAGISTRATE_TRAIL_KEY`, else `trail.key` in the configuration directory."""
        return Path(self.trail_key).expanduser() if self.trail_key else self.config_dir / "trail.key"

    @property
    def queue(self) -> str:
        """The approval queue: `MAGISTRATE_APPROVAL_QUEUE`, else `approvals.sqlite3` in the state directory."""
        return self.approval_queue or str(self.state_dir / "approvals.sqlite3")

    def store(self, name: StoreName) -> str:
        """A bundled server's database: its variable, else `<name>.sqlite3` in the data directory."""
        chosen = self.compliance_db if name == "compliance" else self.documents_db
        return chosen or str(self.data_dir / f"{name}.sqlite3")
