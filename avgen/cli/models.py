"""``avgen models``: the weights bundled with this installation -- the speech priors (VAEs,
with the figures of their cards) and every other network (diffusion prior, temporal prior,
MVSD, the stylizer, the evaluators), each with its file, size and model card."""

from __future__ import annotations

import argparse
from pathlib import Path

OTHER_WEIGHTS: tuple[tuple[str, str, str], ...] = (
    ("diffusion/prior-small.pt", "diffusion speech prior", "avgen enhance --model diffusion-prior"),
    ("models/dkf.pt", "deep Kalman filter speech prior", "avgen enhance --model dkf"),
    ("mvsd/mvsd.pt", "MVSD reverberator + dereverberator", "avgen match, avgen dereverb --image"),
    ("mvsd/rt60-estimator.pt", "blind RT60 estimator (RTE metric)", "benchmarks, evaluators"),
    ("stylize/stylizer.pt", "soundscape stylizer", "avgen stylize"),
    ("stylize/ambience-encoder.pt", "ambience encoder (FD metric)", "avgen.evaluators.ambience"),
    ("stylize/rt60-estimator-ambient.pt", "RT60 estimator through ambience", "evaluators"),
)
"""The bundled files besides the VAE priors: path under ``avgen/assets``, what, used by."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the bundled weights and their model cards")
    p.set_defaults(handler=run)


def other_weights_table(assets: Path) -> str:
    """A plain-text table of :data:`OTHER_WEIGHTS` found under ``assets``."""
    rows = [["file", "size", "what", "used by", "card"]]
    for rel, what, used_by in OTHER_WEIGHTS:
        path = assets / rel
        if path.is_file():
            card = path.with_suffix(".md")
            rows.append([rel, f"{path.stat().st_size / 1e6:.1f} MB", what, used_by,
                         card.name if card.is_file() else "(no card)"])  # fmt: skip
    if len(rows) == 1:
        return "no other weights are bundled in this installation"
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from avgen.models.vae.registry import bundled_dir, format_bundled_table, list_bundled

    models = list_bundled()
    print(format_bundled_table(models))
    if models:
        print(
            f"\n(weights and model cards in {bundled_dir()}; load one with "
            f"avgen.models.load_model('{models[0].name}'))"
        )
    print("\nother bundled networks:\n" + other_weights_table(bundled_dir().parent))
    return 0
