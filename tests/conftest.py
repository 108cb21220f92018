"""Shared test plugins: each lives in its own module and is registered here."""

from __future__ import annotations

pytest_plugins = ["tests._harness", "tests._postgres"]
