"""`inference` is model-agnostic: importing any of its modules never imports `avgen`."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import inference

PACKAGE_DIR = Path(inference.__file__).parent


def _module_names() -> list[str]:
    return ["inference"] + [
        m.name for m in pkgutil.walk_packages([str(PACKAGE_DIR)], prefix="inference.")
    ]


def test_importing_every_inference_module_leaves_avgen_unimported():
    names = _module_names()
    assert "inference.mh" in names and "inference.diagnostics" in names
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'avgen' or m.startswith('avgen.'))\n"
        "print(','.join(bad))\n"
    )
    repo_root = PACKAGE_DIR.parent
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=repo_root, check=True
    )
    assert out.stdout.strip() == "", f"inference imported avgen modules: {out.stdout}"


def test_no_source_file_of_inference_mentions_an_avgen_import():
    offenders = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            if any(m == "avgen" or m.startswith("avgen.") for m in modules):
                offenders.append(f"{path.relative_to(PACKAGE_DIR.parent)}:{node.lineno}")
        if "importlib" in path.read_text(encoding="utf-8") and "avgen" in path.read_text(
            encoding="utf-8"
        ):
            offenders.append(f"{path.relative_to(PACKAGE_DIR.parent)} (dynamic import?)")
    assert offenders == []
