"""Logging that costs nothing until something is worth saying.

structlog takes about 70 ms to import, more than the whole import budget of `magistrate.sdk`,
so the logger is a thin proxy: an event below the configured level returns before structlog is
touched, and the first event that passes imports and configures it. Events go to stderr, as key-value lines
or (`MAGISTRATE_LOG_FORMAT=json`) one JSON object a line; `MAGISTRATE_LOG_LEVEL` (debug, info, warning,
error) sets the level, warning by default. The logger is the process's, so it reads the environment itself,
once, when this module is imported.
"""

from __future__ import annotations

import sys
from typing import Any

from magistrate.broker._config import Environment

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}
_env = Environment.read()
_threshold = _LEVELS.get(_env.log_level, 30)
_configured = False


def _configure() -> None:
    global _configured  # noqa: PLW0603 - configuring a process-wide logger is inherently global
    import structlog

    if not structlog.is_configured():
        renderer: Any = (
            structlog.processors.JSONRenderer()
            if _env.log_format == "json"
            else structlog.processors.KeyValueRenderer(key_order=["timestamp", "level", "logger", "event"])
        )
        structlog.configure(
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                renderer,
            ],
            wrapper_class=structlog.make_filtering_bound_logger(_threshold),
            logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
            cache_logger_on_first_use=True,
        )
    _configured = True


class Logger:
    """A named structlog logger that is only built when an event passes the level."""

    __slots__ = ("_bound", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._bound: Any = None

    def _emit(self, level: str, event: str, fields: dict[str, Any]) -> None:
        if _LEVELS[level] < _threshold:
            return
        if self._bound is None:
            if not _configured:
                _configure()
            import structlog

            self._bound = structlog.get_logger().bind(logger=self._name)
        getattr(self._bound, level)(event, **fields)

    def debug(self, event: str, **fields: Any) -> None:
        self._emit("debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._emit("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._emit("error", event, fields)


def get_logger(name: str) -> Logger:
    return Logger(name)
