"""magistrate.sdk and magistrate.sdk.scripted_model publish exactly their `__all__`, under their own names,
and `import magistrate.sdk` stays light."""

from __future__ import annotations

import dataclasses
import traceback
import typing
from types import ModuleType

import pytest

import magistrate.broker
import magistrate.sdk as sdk
import magistrate.sdk.scripted_model as scripted_model
from tests._public_api import (
    misnamed,
    modules_loaded_by,
    round_trip,
    unevaluated_annotations,
    unexported_public_names,
    unpicklable_errors,
)

PACKAGES = [sdk, scripted_model]


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_all_is_sorted(package: ModuleType) -> None:
    assert package.__all__ == sorted(package.__all__)


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_every_export_resolves(package: ModuleType) -> None:
    for name in package.__all__:
        assert getattr(package, name) is not None


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_every_public_name_is_exported(package: ModuleType) -> None:
    assert unexported_public_names(package) == set()


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_exports_carry_the_package_name(package: ModuleType) -> None:
    assert misnamed(package) == []


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_annotations_are_evaluated_where_they_were_written(package: ModuleType) -> None:
    assert unevaluated_annotations(package) == []


def test_errors_and_types_read_with_the_package_name() -> None:
    error = sdk.OptionsError("cwd='/x': the directory does not exist", option="cwd")
    assert traceback.format_exception_only(error) == [
        "magistrate.sdk.OptionsError: cwd='/x': the directory does not exist\n"
    ]
    assert repr(sdk.ResultMessage) == "<class 'magistrate.sdk.ResultMessage'>"
    assert repr(scripted_model.Scenario) == "<class 'magistrate.sdk.scripted_model.Scenario'>"


def test_a_name_of_the_broker_keeps_the_broker_module() -> None:
    assert sdk.PermissionMode is magistrate.broker.PermissionMode


def test_messages_pickle_and_read_their_field_types() -> None:
    message = sdk.AssistantMessage(content=[sdk.TextBlock("hi"), sdk.ToolUseBlock("t1", "Bash", {})], model="m")
    assert round_trip(message) == message
    hints = typing.get_type_hints(sdk.ResultMessage)
    assert [field.type for field in dataclasses.fields(sdk.ResultMessage)] == list(hints.values())
    assert hints["usage"] == dict[str, typing.Any] | None


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_pickled_errors_come_back_with_their_attributes(package: ModuleType) -> None:
    make = {
        "CLIJSONDecodeError": lambda: sdk.CLIJSONDecodeError("{not json", ValueError("Expecting value")),
        "CLINotFoundError": lambda: sdk.CLINotFoundError(cli_path="/opt/claude"),
        "ControlTimeoutError": lambda: sdk.ControlTimeoutError("initialize", 60.0),
        "MessageParseError": lambda: sdk.MessageParseError("result is invalid", {"type": "result"}),
        "ProcessError": lambda: sdk.ProcessError("the CLI failed", exit_code=2, stderr="boom"),
        "RefusedOptionError": lambda: sdk.RefusedOptionError("unknown option --x", "extra_args", 1, "error: --x"),
        "ScenarioError": lambda: scripted_model.ScenarioError("no turns", source="s.json"),
    }
    assert unpicklable_errors(package, make) == []


def test_import_loads_neither_pydantic_nor_mcp() -> None:
    assert modules_loaded_by("import magistrate.sdk", {"pydantic", "pydantic_core", "mcp"}) == []
