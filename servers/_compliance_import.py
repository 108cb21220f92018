"""Reads frameworks from CSV, JSON or YAML files, checking every row before anything is written.

An import that stops at the first bad row makes a person fix one error per run; one that writes the good rows
leaves a framework half loaded. So the whole file is parsed and validated first, every problem is reported
together (`ImportRowsError.errors`), and only a clean file reaches the database, in one transaction.

JSON and YAML hold one framework object, a list of them, or `{"frameworks": [...]}`; each framework has
`id`, `name`, optional `version`, `description`, `source`, and `requirements` (`id`, `title`, `text`, optional
`ref`, `tags`). CSV has one requirement per row with columns `framework`, `id`, `title`, `text` and optional
`ref`, `tags` (separated by `;`), `framework_name`.

Reading is bounded: the file's size, the length of one CSV field (the csv module's own limit, reported as a row
problem), the nesting depth, and YAML aliases (refused: a few lines of anchors can stand for billions of nodes).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from magistrate.servers._compliance_models import FrameworkRow
from magistrate.servers._errors import ImportRowsError
from magistrate.servers._toolspec import describe_validation_error

_REQUIREMENT_PROBLEM = re.compile(r"^requirements\.(\d+)(?:\.|: )?(.*)$")
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_DEPTH = 64
SAMPLES = ("gdpr.json", "soc2.json")


def sample_frameworks() -> list[FrameworkRow]:
    """The frameworks shipped with magistrate: the GDPR articles and the SOC 2 trust services criteria."""
    data = resources.files("magistrate.servers") / "data"
    return [fw for name in SAMPLES for fw in parse_frameworks((data / name).read_text("utf-8"), "json", name)]


def load_framework_file(path: Path) -> list[FrameworkRow]:
    """Parse and validate a framework file; raises `ImportRowsError` listing every problem."""
    kind = {".csv": "csv", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}.get(path.suffix.lower())
    if kind is None:
        raise ImportRowsError(str(path), [f"unsupported file type {path.suffix!r}: use .csv, .json, .yaml or .yml"])
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImportRowsError(str(path), [f"file is {size} bytes, over the limit of {MAX_FILE_BYTES}"])
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportRowsError(str(path), [f"cannot read: {exc}"]) from exc
    return parse_frameworks(text, kind, str(path))


def parse_frameworks(text: str, kind: str, source: str) -> list[FrameworkRow]:
    if "\x00" in text:
        raise ImportRowsError(source, ["file contains NUL bytes"])
    if kind == "csv":
        return _validate(_from_csv(text, source), source)
    data = _parse_json(text, source) if kind == "json" else _parse_yaml(text, source)
    if isinstance(data, dict) and "frameworks" in data:
        data = data["frameworks"]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise ImportRowsError(source, ["expected a framework object, a list of them, or {'frameworks': [...]}"])
    return _validate([(f"frameworks[{i}]", item) for i, item in enumerate(data)], source)


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ImportRowsError(source, [f"not valid JSON: {exc}"]) from exc
    except RecursionError as exc:
        raise ImportRowsError(source, ["nested too deeply to read"]) from exc


def _parse_yaml(text: str, source: str) -> Any:
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ImportRowsError(source, ["YAML needs pyyaml: pip install 'magistrate[ingest]'"]) from exc

    class _BoundedLoader(yaml.SafeLoader):  # type: ignore[misc]
        """A safe loader that refuses aliases, which let a small file expand to an exponential structure, and
        nesting past `MAX_DEPTH`, which the pure-Python parser takes minutes over."""

        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, "aliases (*name) are not accepted here", mark)
            self.depth += 1
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ImportRowsError(source, [f"not valid YAML: {exc}"]) from exc
    except RecursionError as exc:
        raise ImportRowsError(source, ["nested too deeply to read"]) from exc


def _from_csv(text: str, source: str) -> list[tuple[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    frameworks: dict[str, dict[str, Any]] = {}
    where: dict[str, str] = {}
    rows: list[tuple[int, dict[str | Any, Any]]] = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        # The csv module stops at a field over its limit (131,072 characters) or a malformed quote.
        limit = csv.field_size_limit()
        problem = f"a field is longer than {limit} characters" if "field larger" in str(exc) else str(exc)
        raise ImportRowsError(source, [f"line {reader.line_num + 1}: {problem}"]) from exc
    for line, row in rows:
        fw_id = (row.get("framework") or "").strip()
        fw = frameworks.setdefault(fw_id, {"id": fw_id, "name": "", "requirements": []})
        where.setdefault(fw_id, f"row {line}")
        fw["name"] = fw["name"] or (row.get("framework_name") or "").strip() or fw_id.upper()
        requirement: dict[str, Any] = {k: (row.get(k) or "").strip() for k in ("id", "title", "text", "ref")}
        requirement["tags"] = [t.strip() for t in (row.get("tags") or "").split(";") if t.strip()]
        extra = set(row) - {"framework", "framework_name", "id", "title", "text", "ref", "tags"}
        if extra:
            requirement["unexpected columns"] = sorted("(more values than headers)" if k is None else k for k in extra)
        requirement["_line"] = line
        fw["requirements"].append(requirement)
    return [(where[k], v) for k, v in frameworks.items()]


def _validate(items: Iterable[tuple[str, Any]], source: str) -> list[FrameworkRow]:
    errors: list[str] = []
    result: list[FrameworkRow] = []
    seen: dict[str, str] = {}
    for label, item in items:
        lines: dict[int, int] = {}
        raw = item.get("requirements") if isinstance(item, dict) else None
        for index, req in enumerate(raw if isinstance(raw, list) else []):
            if not isinstance(req, dict):
                continue
            if "_line" in req:
                lines[index] = req.pop("_line")
            place = f"row {lines[index]}" if index in lines else f"{label}.requirements.{index}"
            req_id = req.get("id")
            if isinstance(req_id, str) and req_id in seen:
                errors.append(f"{place}: id {req_id} repeats {seen[req_id]}")
            elif isinstance(req_id, str):
                seen[req_id] = place
        try:
            result.append(FrameworkRow.model_validate(item))
        except ValidationError as exc:
            errors.extend(_locate(label, problem, lines) for problem in describe_validation_error(exc))
    if not result and not errors:
        errors.append("no frameworks found")
    if errors:
        raise ImportRowsError(source, errors)
    return result


def _locate(label: str, problem: str, lines: dict[int, int]) -> str:
    """Point a problem at its CSV row when there is one, else at its path in the document."""
    found = _REQUIREMENT_PROBLEM.match(problem)
    if found and int(found[1]) in lines:
        return f"row {lines[int(found[1])]}: {found[2]}"
    return f"{label}: {problem}" if not lines else f"{label}: framework {problem}"
