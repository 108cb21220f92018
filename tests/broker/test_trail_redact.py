"""Secrets are replaced by keyed hashes wherever they hide; ordinary text is left alone."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from magistrate.broker import Redactor

KEY = b"k" * 32
SECRETS = [
    "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\ndef\n-----END OPENSSH PRIVATE KEY-----",
    "sk-ant-api03-" + "x" * 30,
    "sk-" + "Ab1" * 10,
    "ghp_" + "a" * 36,
    "github_pat_" + "B" * 30,
    "xoxb-1234567890-abcdef",
    "AKIAABCDEFGHIJKLMNOP",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijklmnop",
]


@pytest.mark.parametrize("secret", SECRETS)
def test_token_shapes_are_replaced_anywhere_in_a_string(secret: str) -> None:
    out = Redactor(KEY).text(f"before {secret} after")
    assert secret not in out
    assert out.startswith("before [hmac:")
    assert out.endswith(" after")


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("curl -H 'Authorization: Bearer abcdefghijkl' x", "curl -H 'Authorization: Bearer [hmac:"),
        ("DB_PASSWORD=hunter22 ./run", "DB_PASSWORD=[hmac:"),
        ("mysql --password=hunter22 -u root", "mysql --password=[hmac:"),
        ("git clone https://alice:s3cret@host/repo", "git clone https://alice:[hmac:"),
    ],
)
def test_only_the_secret_part_is_replaced(text: str, kept: str) -> None:
    out = Redactor(KEY).text(text)
    assert out.startswith(kept)
    assert "hunter22" not in out
    assert "s3cret" not in out
    assert "abcdefghijkl" not in out


def test_fields_env_values_and_nesting() -> None:
    value = {
        "command": "ls -la",
        "headers": {"Authorization": "Basic xyz", "Accept": "text/html"},
        "env": {"HOME": "/root", "PATH": "/bin"},
        "config": [{"api_key": 12345, "name": "svc", "max_tokens": 100}],
        "password": None,
        "has_secret": True,
    }
    out = Redactor(KEY).value(value)
    assert out["command"] == "ls -la"
    assert out["headers"]["Accept"] == "text/html"
    assert out["headers"]["Authorization"].startswith("[hmac:")
    assert set(out["env"]) == {"HOME", "PATH"}
    assert all(v.startswith("[hmac:") for v in out["env"].values())
    assert out["config"][0]["api_key"].startswith("[hmac:")
    assert out["config"][0]["name"] == "svc"
    assert out["config"][0]["max_tokens"] == 100
    assert out["password"] is None
    assert out["has_secret"] is True


def test_equal_secrets_give_equal_stand_ins_and_keys_matter() -> None:
    one, other = Redactor(KEY), Redactor(b"z" * 32)
    assert one.hash("abc") == one.hash("abc") != one.hash("abd")
    assert one.hash("abc") != other.hash("abc")


def test_extra_fields_and_patterns_add_to_the_defaults() -> None:
    redactor = Redactor(KEY, extra_fields=["^ssn$"], extra_patterns=[r"\bACME-\d{6}\b"])
    out = redactor.value({"ssn": "123-45-6789", "note": "ticket ACME-123456 ghp_" + "a" * 36})
    assert out["ssn"].startswith("[hmac:")
    assert "ACME-123456" not in out["note"]
    assert "ghp_" not in out["note"]


def test_a_disabled_redactor_passes_values_through() -> None:
    value = {"password": "x", "command": "TOKEN=abc"}
    assert Redactor.disabled().value(value) == value


_FRAGMENTS = [*SECRETS, "Bearer ", "bearer abcdefghij", "API_KEY=", "x_token=v", "--password ", "://u:p@h", " ", "a"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS) | st.text(max_size=8), max_size=6).map("".join))
def test_the_one_search_that_skips_a_string_without_secrets_never_skips_one(text: str) -> None:
    """`text` looks once with all patterns joined, and runs them one by one only on a match: the answer is
    the one that running them one by one always gives."""
    fast = Redactor(KEY)
    slow = Redactor(KEY)
    slow._any = None  # the reference: every pattern on every string
    assert fast.text(text) == slow.text(text)


def test_patterns_that_cannot_be_joined_are_run_one_by_one() -> None:
    redactor = Redactor(KEY, extra_patterns=[r"(ab)\1"])
    assert redactor._any is None
    assert redactor.text("xabab") == f"x{redactor.hash('abab')}"
