"""The shape that docs/architecture.md draws: pipelines return one result type and never switch
on a model's name or class; the inference layer never imports the domain."""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

import pytest

import avgen.pipelines as pipelines
from avgen.pipelines.result import PipelineResult

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "name",
    [
        "enhance",
        "enhance_diffusion",
        "dereverberate",
        "enhance_long",
        "enhance_diffusion_long",
        "dereverberate_long",
    ],
)
def test_every_pipeline_returns_the_one_result_type(name):
    function = getattr(pipelines, name)
    hints = typing.get_type_hints(function)
    assert hints["return"] is PipelineResult, f"{name} returns {hints['return']}"
    assert "seed" in inspect.signature(function).parameters


def _model_switches(path: Path) -> list[str]:
    """``isinstance(model, ...)`` and ``model.name == ...`` / ``in (...)`` in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "isinstance":
            target = node.args[0]
            if isinstance(target, ast.Name) and "model" in target.id:
                found.append(f"{path.name}:{node.lineno} isinstance({target.id}, ...)")
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Attribute):
            if node.left.attr == "name" and "model" in ast.unparse(node.left.value):
                found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    return found


def test_pipelines_ask_the_models_instead_of_switching_on_them():
    switches = [
        s for p in sorted((ROOT / "avgen" / "pipelines").rglob("*.py")) for s in _model_switches(p)
    ]
    assert not switches, "behaviour chosen by model name or class:\n" + "\n".join(switches)


def test_the_architecture_page_names_only_modules_that_exist():
    text = (ROOT / "docs" / "architecture.md").read_text()
    for module in ("result.py", "common.py", "esteps", "history", "prior_terms", "nmf_em"):
        assert module in text
    for path in (
        "avgen/pipelines/result.py",
        "avgen/pipelines/common.py",
        "inference/esteps.py",
        "inference/history.py",
        "inference/prior_terms.py",
    ):
        assert (ROOT / path).is_file(), path
