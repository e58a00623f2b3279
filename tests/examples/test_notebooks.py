"""The executed notebooks under docs/notebooks/ are the current examples, with their figures.

Each notebook records the SHA-256 of the example it was rendered from; an example edited
without rendering its notebook again fails here, with the command that renders it.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "render_notebooks.py"


def _render_module():
    spec = importlib.util.spec_from_file_location("render_notebooks", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


render = _render_module()
RENDERED = [e for e in render.examples() if not render.SETTINGS.get(e.stem, render.Setting()).skip]


def _notebook(example: Path) -> dict:
    return json.loads(render.notebook_path(example).read_text())


@pytest.mark.parametrize("example", RENDERED, ids=lambda e: e.stem)
def test_each_notebook_is_rendered_from_the_current_example(example):
    target = render.notebook_path(example)
    command = f"python scripts/render_notebooks.py {example.stem[:2]}  (or: make notebooks)"
    assert target.exists(), f"{target.relative_to(ROOT)} is missing: run {command}"
    meta = _notebook(example)["metadata"].get("avgen", {})
    assert meta.get("source") == f"examples/{example.name}"
    assert meta.get("source_sha256") == render.source_hash(example), (
        f"examples/{example.name} changed since docs/notebooks/{target.name} was rendered: "
        f"run {command} and commit the notebook"
    )


@pytest.mark.parametrize("example", RENDERED, ids=lambda e: e.stem)
def test_each_notebook_carries_its_outputs_figures_and_setting(example):
    nb = _notebook(example)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c["execution_count"] for c in code), "not executed"
    outputs = [o for c in code for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    text = json.dumps(outputs)
    assert "avgen-notebooks-" not in text, "a temporary path of the render in the outputs"
    if "plt.show()" in example.read_text() or "show_inline(" in example.read_text():
        assert any("image/png" in o.get("data", {}) for o in outputs), "no figure shown"
    assert "Rendered from" in "".join(nb["cells"][0]["source"]), "first cell: the setting"
    size = render.notebook_path(example).stat().st_size
    assert size < 1_000_000, f"{size} bytes: keep committed notebooks small"


def test_the_docs_nav_lists_every_rendered_notebook():
    nav = (ROOT / "mkdocs.yml").read_text()
    for example in RENDERED:
        assert f"notebooks/{example.stem}.ipynb" in nav, example.stem
    index = (ROOT / "docs" / "notebooks" / "index.md").read_text()
    for example in render.examples():
        assert example.stem in index, f"docs/notebooks/index.md does not mention {example.stem}"
