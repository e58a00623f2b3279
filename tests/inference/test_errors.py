"""The inference layer raises its own exception types only: every ``raise`` of a built-in
``ValueError`` / ``TypeError`` in ``inference/`` would let a bad setting look like a bug (and a
caller that translates ``InferenceError`` could not tell them apart)."""

from __future__ import annotations

import ast
from pathlib import Path

import inference

ROOT = Path(inference.__file__).resolve().parent


def _raised_names(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name):
                found.append((node.lineno, exc.id))
    return found


def test_inference_raises_no_plain_value_or_type_errors():
    offenders = [
        f"{path.relative_to(ROOT)}:{line} raises {name}"
        for path in sorted(ROOT.rglob("*.py"))
        for line, name in _raised_names(path)
        if name in ("ValueError", "TypeError")
    ]
    assert offenders == []
