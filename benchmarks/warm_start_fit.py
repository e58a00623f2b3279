"""Does the model's own objective prefer the better estimate? The A-VAE default from its cold
start against the same model warm-started from a supervised (RNNoise) or a DSP (spectral gating)
estimate (``enhance(start_from=...)``, ``avgen enhance --init-from``), on real held-out mixtures.

For each mixture and start: SI-SDR and ESTOI of the estimate against the clean speech, and the
EM's final objective (``info["final_objective"]``: the expected Itakura-Saito divergence per
bin of the observed power to the model's variance ``g v(z) + W H`` at the last parameters;
lower = the model explains the observation better). Printed: per-mixture rows, then per SNR the
paired differences (warm minus cold, mean ± 95 % Student-t half-width) and on how many mixtures
the warm start also reached the lower objective. If the better-scoring warm-started estimates
fit the observed power *worse*, a choice among starts by that fit would keep the cold start's
estimate (the objective is the data-fit term only, not the evidence: no ``log p(z)``, no
entropy; docs/enhancement.md, "Warm-started").

    python benchmarks/warm_start_fit.py --mixtures 3 --snr 0 -5
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from _realspeech import REAL_AMBIENCE, mixtures, utterances

from avgen.baselines.references import available_references, missing_reason, reference_enhance
from avgen.evaluation import mean_ci
from avgen.metrics import evaluate
from avgen.pipelines.enhance_file import AUDIO_ONLY_DEFAULT
from avgen.pipelines.vae_nmf import enhance

from _bench import markdown_header, markdown_row

STARTS = ("rnnoise", "spectral-gating")


def run(noisy: np.ndarray, clean: np.ndarray, start: str, seed: int) -> dict[str, float]:
    """Scores and final objective of the default from ``start`` (``"cold"`` or a reference)."""
    x = torch.from_numpy(noisy)
    if start == "cold":
        result = enhance(x, AUDIO_ONLY_DEFAULT, seed=seed)
    else:
        warm = reference_enhance(start, noisy)
        result = enhance(x, AUDIO_ONLY_DEFAULT, seed=seed, init="audio", start_from=warm)
    scores = evaluate(clean, result.estimate.numpy(), metrics=("si_sdr", "estoi"))
    return {**scores, "objective": float(result.info["final_objective"])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mixtures", type=int, default=3, help="utterances per noise and SNR")
    parser.add_argument("--snr", type=float, nargs="+", default=[0.0, -5.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    starts = [s for s in STARTS if s in available_references()]
    for name in set(STARTS) - set(starts):
        print(f"note: {name} skipped: {missing_reason(name)}")
    speech = utterances(args.mixtures, seed=args.seed)
    rows = []
    print(
        markdown_header("mixture", *(f"{s}: SI-SDR / ESTOI / objective" for s in ("cold", *starts)))
    )
    for mixture in mixtures(speech, REAL_AMBIENCE, tuple(args.snr), seed=args.seed):
        row = {s: run(mixture.noisy, mixture.clean, s, args.seed) for s in ("cold", *starts)}
        rows.append((mixture.snr_db, row))
        cells = [
            f"{r['si_sdr']:.2f} / {r['estoi']:.3f} / {r['objective']:.4f}" for r in row.values()
        ]
        print(markdown_row(mixture.id, *cells), flush=True)
    print()
    print(
        markdown_header(
            "start", "SNR", "Δ SI-SDR (dB)", "Δ ESTOI", "Δ objective", "lower objective"
        )
    )
    for start in starts:
        for snr in args.snr:
            mine = [row for s, row in rows if s == snr]
            deltas = {
                key: [row[start][key] - row["cold"][key] for row in mine]
                for key in ("si_sdr", "estoi", "objective")
            }
            cells = []
            for key, digits in (("si_sdr", 2), ("estoi", 3), ("objective", 4)):
                m, h = mean_ci(deltas[key])
                cells.append(f"{m:+.{digits}f} ± {h:.{digits}f}")
            lower = sum(d < 0 for d in deltas["objective"])
            print(markdown_row(start, f"{snr:+g} dB", *cells, f"{lower} of {len(mine)}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
