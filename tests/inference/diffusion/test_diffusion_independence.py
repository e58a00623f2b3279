"""inference.diffusion is model-agnostic: it never imports avgen (DESIGN.md, "one rule of
direction"), and its public names are importable from the package."""

from __future__ import annotations

import ast
from pathlib import Path

import inference.diffusion as diffusion

PACKAGE = Path(diffusion.__file__).parent


def test_no_module_of_the_package_imports_avgen():
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n == "avgen" or n.startswith("avgen.") for n in names), path.name


def test_public_names_resolve():
    for name in diffusion.__all__:
        assert getattr(diffusion, name) is not None, name
