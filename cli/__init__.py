"""The `magistrate` command line: thin commands over the SDK, the broker and the servers."""

from magistrate.cli._main import main

__all__ = ["main"]
