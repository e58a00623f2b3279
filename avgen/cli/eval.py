"""``avgen eval``: score enhancement on a data kit's test mixtures (tables with 95 % CIs)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from avgen.cli.enhance import add_schedule_arguments, schedule_from_args
from avgen.errors import ConfigError, OutputError
from avgen.files import check_writable


def register(sub: argparse._SubParsersAction) -> None:
    from avgen.pipelines.vae_nmf.schemes import SCHEMES

    p = sub.add_parser(
        "eval",
        help="PESQ-WB, ESTOI, SI-SDR of VAE priors vs noisy and a Wiener "
        "baseline on a kit's test mixtures",
        description="Enhance a data kit's test mixtures with each model and "
        "score them (PESQ-WB, ESTOI, SI-SDR; mean ± 95%% CI per model, noise "
        "type and SNR), with the noisy input and a Wiener filter with "
        "minimum-statistics noise tracking as rows for context, and with "
        "--references the reference enhancers RNNoise, DeepFilterNet3 and "
        "spectral gating (extra avgen[references]). Writes "
        "eval.md, eval.csv, eval.json into --out.",
    )
    p.add_argument("--data", required=True, type=Path, help="data kit folder")
    p.add_argument(
        "--models",
        default="a-vae,av-vae,min-vae",
        help="comma-separated priors: bundled names, checkpoint paths, or "
        "LABEL=PATH (default: a-vae,av-vae,min-vae)",
    )
    p.add_argument(
        "--noise",
        default="unseen",
        choices=("unseen", "seen", "all"),
        help="noise types never seen in training (default), seen, or all",
    )
    p.add_argument(
        "--noise-types",
        default=None,
        help="comma-separated noise types to keep (default: all of --noise)",
    )
    p.add_argument("--snr", default="-5,0,5", help="comma-separated SNRs in dB")
    # let "--snr -5,0,5" read as a value, not as an option (argparse only knows "-5")
    p._negative_number_matcher = re.compile(r"^-\d+(\.\d+)?(,-?\d+(\.\d+)?)*$")
    p.add_argument(
        "--limit",
        type=int,
        default=None,
        help="at most N mixtures per noise type and SNR (a stratified subset)",
    )
    p.add_argument(
        "--references",
        default="all",
        help="reference enhancers from other projects to score beside the models: 'all' "
        "(default), 'none', or a comma-separated list of rnnoise, dfn3, spectral-gating "
        "(extra avgen[references]; one that is not installed is skipped with a note)",
    )
    p.add_argument("--scheme", default="mcem-mh", choices=SCHEMES)
    add_schedule_arguments(p)
    p.add_argument(
        "--out",
        type=Path,
        default=Path("eval-output"),
        help="folder for eval.md / eval.csv / eval.json",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for torch (default 1)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=run)


def parse_floats(text: str, what: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{what} must be comma-separated numbers, got {text!r}") from None
    if not values:
        raise ConfigError(f"{what}: give at least one value")
    return values


def load_methods(spec: str, device: str) -> dict:
    """``"a-vae,runs/x.pt,mine=runs/y.pt"`` -> ``{label: model}``."""
    from avgen.models import load_model

    methods = {}
    for entry in (e.strip() for e in spec.split(",")):
        if not entry:
            continue
        label, _, path = entry.partition("=")
        model = load_model(path or label, device=device)
        if not path and Path(label).suffix == ".pt":
            label = model.name if model.name not in methods else Path(label).stem
        if label in methods:
            raise ConfigError(f"--models names {label!r} twice")
        methods[label] = model
    if not methods:
        raise ConfigError("--models: give at least one model")
    return methods


def select_references(spec: str) -> tuple[list[str], list[str]]:
    """``--references`` -> ``(names to run, one-line notes on those skipped)``."""
    from avgen.baselines.references import REFERENCES, get_reference, missing_reason

    spec = spec.strip()
    if spec in ("", "none"):
        return [], []
    names = (
        list(REFERENCES)
        if spec == "all"
        else [get_reference(n.strip()).name for n in spec.split(",") if n.strip()]
    )
    notes = [r for r in (missing_reason(n) for n in names) if r is not None]
    return [n for n in names if missing_reason(n) is None], notes


def run(args: argparse.Namespace) -> int:
    import torch

    from avgen.evaluation import evaluate_kit, format_markdown, summarise, write_tables
    from avgen.runtime import keep_freed_memory

    torch.set_num_threads(max(1, args.threads))
    keep_freed_memory()
    snrs = parse_floats(args.snr, "--snr")
    types = (
        None
        if args.noise_types is None
        else [t.strip() for t in args.noise_types.split(",") if t.strip()]
    )
    schedule = schedule_from_args(args)
    check_writable(args.out, folder=True)
    if args.out.resolve() == args.data.resolve():
        raise OutputError(
            f"{args.out}: --out is the data kit folder; give another folder for the tables"
        )
    from avgen.data.kit.records import read_kit_info

    read_kit_info(args.data)  # a clear error before loading any model
    references, notes = select_references(args.references)
    methods = load_methods(args.models, args.device)
    scores, settings = evaluate_kit(
        args.data,
        methods,
        noise=args.noise,
        snrs=snrs,
        noise_types=types,
        limit=args.limit,
        scheme=args.scheme,
        schedule=schedule,
        seed=args.seed,
        device=args.device,
        references=references,
        progress=None if not args.no_progress else False,
    )
    settings["references_skipped"] = notes
    rows = summarise(scores)
    header = (
        f"Enhancement on {settings['kit']} ({settings['noise']} noise: "
        f"{', '.join(settings['noise_types'])}; {settings['n_mixtures']} mixtures"
        + ("" if args.limit is None else f", at most {args.limit} per noise type and SNR")
        + f"). Scheme {settings['scheme']}: {settings['schedule']}. "
        "Mean ± 95% CI (Student t)."
    )
    paths = write_tables(args.out, rows, scores, settings, header=header)
    print(format_markdown(rows, header=header))
    for note in notes:
        print(f"note: {note}")
    rtf = ", ".join(f"{k} {v:.2f}" for k, v in settings["real_time_factor"].items())
    print(f"real-time factors: {rtf}")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0
