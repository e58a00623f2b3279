"""Render the examples as executed notebooks, with their outputs and figures, for the docs.

Each ``examples/NN_*.py`` (a jupytext percent script) becomes ``docs/notebooks/NN_*.ipynb``,
executed top to bottom in a fresh kernel of this interpreter, in the setting chosen below
(usually the example's fast setting, the one its test runs). The notebook records the SHA-256 of
its source example in ``metadata.avgen.source_sha256``; ``tests/examples/test_notebooks.py``
fails when an example changed without being rendered again.

    python scripts/render_notebooks.py              # all examples (or: make notebooks)
    python scripts/render_notebooks.py 04 08        # only these (by number or name)
    python scripts/render_notebooks.py --check      # say which notebooks are stale, render nothing

The first cell of each notebook says which setting was used. Figures are shown at a reduced
resolution (``FIGURE_DPI``) to keep the committed notebooks small.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
NOTEBOOKS = ROOT / "docs" / "notebooks"
FIGURE_DPI = 60
MAX_IMAGE_WIDTH = 640  # px; wider figures (saved by the library at its own dpi) are scaled down
PALETTE_COLOURS = (
    64  # a palette PNG of 64 colours is a third of a true-colour one, and looks the same
)
RENDER_COMMAND = "make notebooks  (or: python scripts/render_notebooks.py NN)"


@dataclass(frozen=True)
class Setting:
    """How one example is rendered."""

    fast: bool = True  # AVGEN_EXAMPLE_FAST=1
    tiny_kit: bool = False  # AVGEN_KIT = a tiny kit built once for the run
    note: str = ""  # said in the notebook's first cell
    skip: str = ""  # not rendered, and why (listed on docs/notebooks/index.md)


SETTINGS: dict[str, Setting] = {
    "01_data_and_metrics": Setting(
        fast=False, tiny_kit=True, note="on the `tiny` data kit (12 utterances)"
    ),
    "02_vae_priors": Setting(
        tiny_kit=True,
        note="on the `tiny` data kit, 3 epochs on 4,000 frames: the priors are barely trained",
    ),
    # the full setting (250 frames, 257 bins, 60 EM iterations) took over 4 CPU minutes
    "03_inference_schemes": Setting(note="80 frames, 64 bins, 12 EM iterations"),
    "04_unsupervised_enhancement": Setting(
        fast=False, note="the default schedule (100 EM iterations of 20 MH steps)"
    ),
    "05_diffusion_priors": Setting(note="few sampler steps, 64 frames"),
    "06_visual_acoustic_matching": Setting(
        fast=False, note="the bundled MVSD weights, 18 sampling steps (the full setting)"
    ),
    "07_samplers_on_the_enhancement_posterior": Setting(
        note="2 frames, 300 steps per chain, NUTS 25 + 25: the numbers quoted in the text are "
        "the full setting's"
    ),
    "08_mcmc_diagnostics": Setting(
        note="3 frames, 240 steps per chain: the numbers quoted in the text are the full setting's"
    ),
    "09_soundscape_stylization": Setting(
        fast=False, note="the bundled stylizer, 12 sampling steps (the full setting)"
    ),
}


def examples() -> list[Path]:
    return sorted(p for p in EXAMPLES.glob("[0-9][0-9]_*.py"))


def source_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def notebook_path(example: Path) -> Path:
    return NOTEBOOKS / f"{example.stem}.ipynb"


def stale(example: Path) -> str | None:
    """Why the committed notebook of ``example`` is out of date (``None``: it is current)."""
    import nbformat

    target = notebook_path(example)
    if not target.exists():
        return "no notebook"
    meta = nbformat.read(target, as_version=4).metadata.get("avgen", {})
    if meta.get("source_sha256") != source_hash(example):
        return "the example changed since it was rendered"
    return None


def setting_text(setting: Setting) -> str:
    kind = (
        "the example's fast setting (`AVGEN_EXAMPLE_FAST=1`, the one its test runs)"
        if setting.fast
        else "the example's full setting"
    )
    return f"{kind}{', ' + setting.note if setting.note else ''}"


def shrink_png(data: str) -> str:
    """A base64 PNG at most ``MAX_IMAGE_WIDTH`` wide, in ``PALETTE_COLOURS`` when smaller."""
    import base64
    import io

    from PIL import Image

    raw = base64.b64decode(data)
    image = Image.open(io.BytesIO(raw))
    if image.width > MAX_IMAGE_WIDTH:
        height = round(image.height * MAX_IMAGE_WIDTH / image.width)
        image = image.convert("RGB").resize((MAX_IMAGE_WIDTH, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.convert("RGB").quantize(PALETTE_COLOURS).save(buffer, format="PNG", optimize=True)
    smaller = buffer.getvalue()
    return base64.b64encode(smaller if len(smaller) < len(raw) else raw).decode("ascii")


def render(example: Path, kit: Path | None, workdir: Path) -> Path:
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    setting = SETTINGS.get(example.stem, Setting())
    nb = jupytext.read(example)
    rendered = (
        f"*Rendered from `examples/{example.name}` by `scripts/render_notebooks.py`, in "
        f"{setting_text(setting)}."
        + (
            f" Run the script itself for its full setting: `python examples/{example.name}`.*"
            if setting.fast
            else "*"
        )
    )
    if nb.cells and nb.cells[0].cell_type == "markdown":  # the title cell says it
        nb.cells[0].source = f"{nb.cells[0].source}\n\n{rendered}"
    else:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(rendered))
    setup = nbformat.v4.new_code_cell(  # run first, then removed from the notebook
        "import warnings\n"
        "warnings.filterwarnings('ignore', message='IProgress not found')  # tqdm without widgets\n"
        "import matplotlib.pyplot as plt\n"
        f"plt.rcParams['figure.dpi'] = {FIGURE_DPI}\n"
        "%config InlineBackend.figure_formats = ['png']"
    )
    nb.cells = [setup, *nb.cells]
    env = {
        "AVGEN_EXAMPLE_OUTPUT": "example-output",  # relative: no temporary path in the outputs
        "AVGEN_PROGRESS": "0",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(ROOT),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    if setting.fast:
        env["AVGEN_EXAMPLE_FAST"] = "1"
    if kit is not None:
        env["AVGEN_KIT"] = os.path.relpath(kit, workdir)
    saved = {k: os.environ.get(k) for k in (*env, "AVGEN_EXAMPLE_FAST", "AVGEN_KIT")}
    os.environ.pop("AVGEN_EXAMPLE_FAST", None)
    os.environ.pop("AVGEN_KIT", None)
    os.environ.update(env)
    try:
        client = NotebookClient(
            nb,
            timeout=900,
            kernel_name="python3",
            resources={"metadata": {"path": str(workdir)}},
        )
        client.execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    nb.cells = nb.cells[1:]  # the set-up cell is not part of the example
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                output["data"]["image/png"] = shrink_png(png)
                output.get("metadata", {}).pop("image/png", None)
    count = 0
    for cell in nb.cells:
        if cell.cell_type == "code":
            count += 1
            cell.execution_count = count
            cell.metadata.pop("execution", None)
            for output in cell.get("outputs", []):
                if "execution_count" in output:
                    output["execution_count"] = count
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["avgen"] = {
        "source": f"examples/{example.name}",
        "source_sha256": source_hash(example),
        "setting": "fast" if setting.fast else "full",
        "note": setting.note,
        "rendered_by": "scripts/render_notebooks.py",
    }
    target = notebook_path(example)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("only", nargs="*", help="example numbers or names (default: all)")
    parser.add_argument("--check", action="store_true", help="list stale notebooks, exit 1 if any")
    args = parser.parse_args(argv)
    chosen = [
        e
        for e in examples()
        if not args.only or any(e.stem == o or e.stem.startswith(f"{o}_") for o in args.only)
    ]
    if args.check:
        problems = [
            (e, why)
            for e in chosen
            if not SETTINGS.get(e.stem, Setting()).skip and (why := stale(e))
        ]
        for e, why in problems:
            print(f"{notebook_path(e).relative_to(ROOT)}: {why}")
        return 1 if problems else 0
    todo = [e for e in chosen if not SETTINGS.get(e.stem, Setting()).skip]
    with tempfile.TemporaryDirectory(prefix="avgen-notebooks-") as tmp:
        kit = None
        if any(SETTINGS.get(e.stem, Setting()).tiny_kit for e in todo):
            sys.path.insert(0, str(ROOT))
            from avgen.data.kit.build import BuildOptions, build_kit

            print("building the tiny kit ...", flush=True)
            kit = build_kit(Path(tmp) / "kit-tiny", BuildOptions(size="tiny", seed=0))
        for example in todo:
            started = time.perf_counter()
            work = Path(tmp) / example.stem
            work.mkdir()
            uses_kit = SETTINGS.get(example.stem, Setting()).tiny_kit
            target = render(example, kit if uses_kit else None, work)
            print(
                f"{target.relative_to(ROOT)}: {time.perf_counter() - started:.0f} s, "
                f"{target.stat().st_size / 1024:.0f} KiB",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
