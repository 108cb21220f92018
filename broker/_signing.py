"""Ed25519 keys and signed checkpoints: what makes the trail's hashes worth something.

Anyone who can write the database can recompute every hash in it; nobody without the private key can sign a
checkpoint (tree size, root, time) for the result. So the key lives apart from the database: by default in
`$XDG_CONFIG_HOME/magistrate/trail.key` (PEM, mode 0600, created on first use), and a verifier needs only
the public key. The keyed-hash secret for redaction sits beside it (`trail.redact.key`), for the same reason.

The signed message is a small text note, so it can be checked with any Ed25519 tool::

    magistrate.trail/v1
    <log id>
    <tree size>
    <root, base64>
    <time, RFC 3339 UTC>
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from magistrate.broker._config import Environment
from magistrate.broker._trail_errors import AuditError

_NOTE_HEADER = "magistrate.trail/v1"


def default_key_path(env: Environment | None = None) -> Path:
    """The signing key `env` (default: this process's environment) names: `$MAGISTRATE_TRAIL_KEY`, else
    `trail.key` in the per-user configuration directory (`$XDG_CONFIG_HOME/magistrate/` on Linux)."""
    return (env or Environment.read()).key_path


def key_id(public: Ed25519PublicKey) -> str:
    """A short name for a public key: the first 8 bytes of SHA-256 of its raw form, in hex."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _create_exclusive(path: Path, data: bytes) -> None:
    """Write `data` to `path` unless it exists; atomic, so concurrent first uses agree on one key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process created it first; theirs wins
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_or_create_secret(path: Path) -> bytes:
    """A 32-byte secret kept in a 0600 file, created on first use (the redaction HMAC key)."""
    if not path.exists():
        _create_exclusive(path, secrets.token_hex(32).encode() + b"\n")
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise AuditError(f"cannot read the secret in {path}: {exc}") from exc


def load_or_create_signing_key(path: Path | None = None) -> Ed25519PrivateKey:
    """The trail's private key from `path` (default `default_key_path()`), generated there if missing."""
    path = path or default_key_path()
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _create_exclusive(path, pem)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise AuditError(f"cannot load the trail's signing key from {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditError(f"{path} holds a {type(key).__name__}, not an Ed25519 private key")
    return key


def public_key_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key from a PEM file; a private key file is accepted too (its public half is used)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuditError(f"cannot read the public key {path}: {exc}") from exc
    try:
        if b"PRIVATE KEY" in data:
            private = serialization.load_pem_private_key(data, password=None)
            if isinstance(private, Ed25519PrivateKey):
                return private.public_key()
        else:
            public = serialization.load_pem_public_key(data)
            if isinstance(public, Ed25519PublicKey):
                return public
    except (ValueError, TypeError) as exc:
        raise AuditError(f"cannot load the public key {path}: {exc}") from exc
    raise AuditError(f"{path} does not hold an Ed25519 key")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement: the trail `log_id` had `size` records with Merkle root `root` at `time`."""

    log_id: str
    size: int
    root: bytes
    time: str
    key_id: str
    signature: bytes

    @staticmethod
    def note(log_id: str, size: int, root: bytes, time: str) -> bytes:
        return f"{_NOTE_HEADER}\n{log_id}\n{size}\n{base64.b64encode(root).decode()}\n{time}\n".encode()

    @classmethod
    def sign(
        cls, key: Ed25519PrivateKey, log_id: str, size: int, root: bytes, time: str, *, signer: str | None = None
    ) -> Checkpoint:
        """`signer`: the key's `key_id`, when the caller knows it already (a writer signs every append)."""
        signature = key.sign(cls.note(log_id, size, root, time))
        return cls(log_id, size, root, time, signer or key_id(key.public_key()), signature)

    def verify(self, keys: dict[str, Ed25519PublicKey]) -> str | None:
        """None when the signature holds under one of `keys` (by key id); otherwise what is wrong."""
        public = keys.get(self.key_id)
        if public is None:
            return f"signed by key {self.key_id}, which is not among the trusted keys ({', '.join(keys) or 'none'})"
        try:
            public.verify(self.signature, self.note(self.log_id, self.size, self.root, self.time))
        except InvalidSignature:
            return "its signature does not match its content (forged or altered without the key)"
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "log_id": self.log_id,
            "size": self.size,
            "root": base64.b64encode(self.root).decode(),
            "time": self.time,
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint:
        return cls(
            log_id=str(data["log_id"]),
            size=int(data["size"]),
            root=base64.b64decode(data["root"]),
            time=str(data["time"]),
            key_id=str(data["key_id"]),
            signature=base64.b64decode(data["signature"]),
        )
