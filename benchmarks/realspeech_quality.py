"""Real held-out speech with real ambience and with unusual noises: the library's audio-only
default beside the reference enhancers, per noise type and SNR (issue 16, item 2).

Mixtures (``_realspeech.py``): ``--mixtures`` French/Italian/Russian Asterisk prompts that no kit
plans, each mixed with every noise of ``--noises`` at every ``--snr`` (default: the unseen real
ambience recordings ``city``, ``night``, ``tv`` and the seven procedural unusual noises of
:mod:`avgen.data.noise.unusual`; -5, 0 and +5 dB). Systems: the noisy input; the audio-only default
(:data:`avgen.pipelines.enhance_file.AUDIO_ONLY_DEFAULT` with MCEM-MH and its default schedule, or
``--em-iters`` iterations when compute is short; seed 0); when named in ``--systems`` (four times
the A-VAE's time), UDiffSE with the bundled diffusion prior
(:func:`avgen.pipelines.diffusion.enhance_diffusion`, its defaults, or the ``--udiffse-*``
options); RNNoise, DeepFilterNet3 and
spectral gating when installed (a missing one is a note). Per noise type and SNR, and pooled per
group (real ambience, unusual): SI-SDR (dB), ESTOI, PESQ-WB as mean ± 95 % Student-t half-width;
"worse": mixtures whose ESTOI fell more than 0.05 below the input's; "level": the output's power
over the input's in dB (how much the system removed); RTF: wall time over duration, median, on
``--threads`` threads.

    python benchmarks/realspeech_quality.py --mixtures 15 --snr -5 0 5        # the issue's 45
    python benchmarks/enhance_quality.py realspeech --mixtures 15             # the same
    python benchmarks/realspeech_quality.py --mixtures 3 --snr 0 --noises clicks rain --json o.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict

import numpy as np
import torch
from _realspeech import ALL_NOISES, mixtures, noise_group, utterances

from avgen.baselines.references import available_references, missing_reason, reference_enhance
from avgen.evaluation import mean_ci
from avgen.metrics import evaluate
from avgen.models import load_model
from avgen.pipelines.diffusion import enhance_diffusion
from avgen.pipelines.enhance_file import AUDIO_ONLY_DEFAULT
from avgen.pipelines.vae_nmf import EMSchedule, enhance

from _bench import markdown_header, markdown_row

METRICS = ("si_sdr", "estoi", "pesq_wb")
WORSE_ESTOI = 0.05
UDIFFSE = "udiffse (bundled diffusion prior)"
UDIFFSE_FLAGS = {
    "steps": int,
    "likelihood_weight": float,
    "n_samples": int,
    "noise_from": str,
    "warm_start": float,
    "nmf_updates": int,
    "noise_until": float,
    "estimate": str,
}
"""``--udiffse-<name>`` options passed to :func:`enhance_diffusion` when given."""


def cell(values: list[float], digits: int) -> str:
    m, h = mean_ci(values)
    return f"{m:.{digits}f} ± {h:.{digits}f}"


def level_db(estimate: np.ndarray, noisy: np.ndarray) -> float:
    """``10 log10(sum estimate^2 / sum noisy^2)``."""
    return float(10 * np.log10(np.sum(estimate.astype(np.float64) ** 2) / np.sum(noisy**2.0)))


def run_system(
    system: str, noisy: np.ndarray, model, schedule, seed: int, diffusion: dict
) -> np.ndarray:
    if system == "noisy":
        return noisy
    if system.startswith("udiffse"):
        result = enhance_diffusion(torch.from_numpy(noisy), seed=seed, progress=False, **diffusion)
        return result.estimate.numpy()
    if system.startswith("avgen"):
        result = enhance(torch.from_numpy(noisy), model, schedule=schedule, seed=seed)
        return result.estimate.numpy()
    return np.asarray(reference_enhance(system, noisy), dtype=np.float32)


def table(rows: list[dict], systems: list[str], title: str) -> list[str]:
    """Markdown lines: one row per system over ``rows`` (dicts of one (noise, SNR) cell)."""
    noisy_estoi = {r["mixture"]: r["estoi"] for r in rows if r["system"] == "noisy"}
    columns = ("system", "n", "SI-SDR (dB)", "ESTOI", "PESQ-WB", "worse", "level (dB)", "RTF")
    lines = ["", title, markdown_header(*columns, align="lrrrrrrr")]
    for system in systems:
        mine = [r for r in rows if r["system"] == system]
        if not mine:
            continue
        worse = sum(r["estoi"] < noisy_estoi[r["mixture"]] - WORSE_ESTOI for r in mine)
        rtf = "" if system == "noisy" else f"{statistics.median(r['rtf'] for r in mine):.2f}"
        lines.append(markdown_row(
            system, len(mine), cell([r["si_sdr"] for r in mine], 2),
            cell([r["estoi"] for r in mine], 3), cell([r["pesq_wb"] for r in mine], 2),
            worse, f"{statistics.mean(r['level_db'] for r in mine):+.1f}", rtf))  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mixtures", type=int, default=15, help="utterances per noise and SNR")
    parser.add_argument("--snr", type=float, nargs="+", default=[-5.0, 0.0, 5.0])
    parser.add_argument("--noises", nargs="+", default=list(ALL_NOISES), choices=ALL_NOISES)
    parser.add_argument("--systems", nargs="+", default=None, help="subset of the systems")
    parser.add_argument("--em-iters", type=int, default=None, help="shorter A-VAE schedule")
    parser.add_argument("--steps", type=int, default=None, help="MH steps per E-step")
    parser.add_argument("--burn-in", type=int, default=None, help="of which burn-in")
    parser.add_argument("--max-seconds", type=float, default=4.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None, help="write every item's scores here")
    for flag, kind in UDIFFSE_FLAGS.items():
        parser.add_argument(f"--udiffse-{flag.replace('_', '-')}", type=kind, dest=flag,
                            help=f"enhance_diffusion's {flag} (default: its own)")  # fmt: skip
    args = parser.parse_args(argv)
    diffusion = {k: getattr(args, k) for k in UDIFFSE_FLAGS if getattr(args, k) is not None}
    torch.set_num_threads(args.threads)
    model = load_model(AUDIO_ONLY_DEFAULT)
    given = {"n_iter": args.em_iters, "n_steps": args.steps, "burn_in": args.burn_in}
    schedule = EMSchedule(**{k: v for k, v in given.items() if v is not None})
    references = available_references()
    for name in ("rnnoise", "dfn3", "spectral-gating"):
        if name not in references:
            print(f"note: {name} skipped: {missing_reason(name)}")
    default = f"avgen default ({AUDIO_ONLY_DEFAULT})"
    systems = ["noisy", default, *references]
    if args.systems:  # UDiffSE only when asked for: four times the A-VAE's time
        systems = ["noisy", default, UDIFFSE, *references]
        systems = [s for s in systems if s in args.systems or s.split(" ")[0] in args.systems]
    print(f"schedule: {schedule.describe('mcem-mh')}; {args.threads} thread(s); seed {args.seed}")
    if diffusion:
        print(f"udiffse options: {diffusion}")
    speech = utterances(args.mixtures, seed=args.seed, max_seconds=args.max_seconds)
    rows: list[dict] = []
    for mixture in mixtures(speech, tuple(args.noises), tuple(args.snr), seed=args.seed):
        seconds = mixture.noisy.size / 16_000
        for system in systems:
            t0 = time.perf_counter()
            estimate = run_system(system, mixture.noisy, model, schedule, args.seed, diffusion)
            rtf = (time.perf_counter() - t0) / seconds
            scores = evaluate(mixture.clean, estimate, metrics=METRICS)
            rows.append({"mixture": mixture.id, "noise": mixture.noise_name,
                         "group": noise_group(mixture.noise_name), "snr_db": mixture.snr_db,
                         "language": mixture.language, "system": system, "rtf": rtf,
                         "level_db": level_db(estimate, mixture.noisy), **scores})  # fmt: skip
        print(f"done {mixture.id}", flush=True)
    cells: dict[tuple[str, float], list[dict]] = defaultdict(list)
    for r in rows:
        cells[(r["noise"], r["snr_db"])].append(r)
        cells[(f"all {r['group']}", r["snr_db"])].append(r)
    order = [*args.noises, "all real ambience", "all unusual"]
    for (noise, snr), mine in sorted(cells.items(), key=lambda c: (order.index(c[0][0]), c[0][1])):
        n = len({r["mixture"] for r in mine})
        print("\n".join(table(mine, systems, f"{noise}, {snr:+g} dB ({n} mixtures)")), flush=True)
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k != "json"}
        with open(args.json, "w") as f:
            json.dump({"settings": settings, "systems": systems, "items": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
