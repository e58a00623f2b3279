"""``avgen models``: the speech priors bundled with this installation."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the bundled speech-prior weights and their cards")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from avgen.models.vae.registry import bundled_dir, format_bundled_table, list_bundled

    models = list_bundled()
    print(format_bundled_table(models))
    if models:
        print(
            f"\n(weights and model cards in {bundled_dir()}; load one with "
            f"avgen.models.load_model('{models[0].name}'))"
        )
    return 0
