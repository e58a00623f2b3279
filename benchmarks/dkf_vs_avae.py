"""The temporal priors (DKF, RVAE) beside the A-VAE, through the same enhancement pipeline.

    OMP_NUM_THREADS=1 python benchmarks/dkf_vs_avae.py                      # the bundled clips
    OMP_NUM_THREADS=1 python benchmarks/dkf_vs_avae.py --heldout 8 --snr -5 0 --mh-adapt 0.3
    OMP_NUM_THREADS=1 python benchmarks/dkf_vs_avae.py --heldout 8 --snr 0 --no-dkf \
        --rvae RUNS/rvae.pt --n-iter 30 --steps 10 --burn-in 5

Systems: the bundled A-VAE with ``mcem-mh`` (per-frame random-walk MH); the DKF (``--dkf``,
default the bundled one) with ``mcem-mh``, i.e. checkerboard MH on the latent trajectory, and
with ``--mh-adapt ACC`` also a second DKF row whose steps are adapted per frame in burn-in; an
RVAE checkpoint (``--rvae``) with ``mcem-mala``, MALA on the whole trajectory. All share one
schedule (default: the papers' 40 steps of which 30 burn-in for every system, NMF rank 4,
``--n-iter`` EM iterations of ``--steps`` sweeps, ``--burn-in`` burn-in, proposal variance
0.01) and seed. Inputs: the bundled clips
(``avgen/assets/samples/*``), or ``--heldout N`` real mixtures per ``--snr`` from
:mod:`avgen.data.kit.heldout` (speech no kit used, real ambience). Prints SI-SDR, ESTOI, the
final acceptance and the real-time factor (one thread) per input, then means with 95 %
intervals and each system's paired differences from the A-VAE.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import torch

from avgen.audio import load_audio
from avgen.evaluation import mean_ci
from avgen.metrics import estoi, si_sdr
from avgen.models import load_model
from avgen.pipelines.vae_nmf import EMSchedule, enhance


def inputs(args: argparse.Namespace) -> Iterator[tuple[str, torch.Tensor, torch.Tensor]]:
    """``(name, clean, noisy)`` for every input of the run."""
    if args.heldout:
        from avgen.data.kit.heldout import heldout_mixtures

        for snr in args.snr:
            for mix in heldout_mixtures(args.heldout, snr, seed=args.seed):
                yield mix.id, torch.from_numpy(mix.clean), torch.from_numpy(mix.noisy)
        return
    samples = Path(str(resources.files("avgen"))) / "assets" / "samples"
    for clip in sorted(p for p in samples.iterdir() if (p / "noisy.wav").is_file()):
        yield clip.name, load_audio(clip / "clean.wav"), load_audio(clip / "noisy.wav")


def cell(values: list[float], digits: int) -> str:
    m, h = mean_ci(values)
    return f"{m:.{digits}f} ± {h:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-iter", type=int, default=100)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--burn-in", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dkf", default="dkf", help="a DKF checkpoint (default: the bundled)")
    parser.add_argument("--no-dkf", action="store_true", help="leave the DKF out")
    parser.add_argument("--mh-adapt", type=float, default=None, help="also the DKF adapted")
    parser.add_argument("--rvae", default=None, help="an RVAE checkpoint (mcem-mala)")
    parser.add_argument("--heldout", type=int, default=0, help="held-out mixtures per SNR")
    parser.add_argument("--snr", type=float, nargs="+", default=[0.0])
    args = parser.parse_args()
    torch.set_num_threads(1)
    schedule = EMSchedule(n_iter=args.n_iter, n_steps=args.steps, burn_in=args.burn_in)
    systems = {"a-vae (mcem-mh)": (load_model("a-vae"), "mcem-mh", schedule)}
    if not args.no_dkf:
        dkf = load_model(args.dkf)
        systems["dkf (checkerboard mh)"] = (dkf, "mcem-mh", schedule)
        if args.mh_adapt is not None:
            adapted = dataclasses.replace(schedule, mh_adapt=args.mh_adapt)
            systems[f"dkf (checkerboard mh, adapt {args.mh_adapt:g})"] = (dkf, "mcem-mh", adapted)
    if args.rvae is not None:
        systems["rvae (mala, trajectory)"] = (load_model(args.rvae), "mcem-mala", schedule)
    print(f"schedule: {schedule.describe('mcem-mh')}; seed {args.seed}")
    scores: dict[str, list[tuple[float, float, float, float]]] = {
        s: [] for s in ["noisy", *systems]
    }
    for name, clean, noisy in inputs(args):
        seconds = noisy.numel() / 16000
        scores["noisy"].append((float(si_sdr(clean, noisy)), float(estoi(clean, noisy)), 0, 0))
        for system, (model, scheme, sched) in systems.items():
            out = enhance(noisy, model, scheme=scheme, schedule=sched, seed=args.seed)
            acceptance = out.info["final_acceptance"]
            row = (
                float(si_sdr(clean, out.estimate)),
                float(estoi(clean, out.estimate)),
                float("nan") if acceptance is None else acceptance,
                out.info["seconds"] / seconds,
            )
            scores[system].append(row)
            print(
                f"{name:<44} {system:<36} SI-SDR {row[0]:6.2f} dB  ESTOI {row[1]:.3f}  "
                f"acc {row[2]:.3f}  RTF {row[3]:.2f}",
                flush=True,
            )
    print("\n| system | SI-SDR (dB) | ESTOI | final acceptance | RTF (median) |")
    print("|---|---|---|---|---|")
    for system, rows in scores.items():
        acc = "" if system == "noisy" else f"{sum(r[2] for r in rows) / len(rows):.3f}"
        rtf = "" if system == "noisy" else f"{sorted(r[3] for r in rows)[len(rows) // 2]:.2f}"
        print(
            f"| {system} | {cell([r[0] for r in rows], 2)} | {cell([r[1] for r in rows], 3)} "
            f"| {acc} | {rtf} |"
        )
    first = next(iter(systems))
    print(f"\npaired differences from {first} (same inputs), mean ± 95 % CI")
    print("| system | Δ SI-SDR (dB) | Δ ESTOI |")
    print("|---|---|---|")
    for system in list(systems)[1:]:
        pairs = list(zip(scores[system], scores[first]))
        print(
            f"| {system} | {cell([a[0] - b[0] for a, b in pairs], 2)} "
            f"| {cell([a[1] - b[1] for a, b in pairs], 3)} |"
        )


if __name__ == "__main__":
    main()
