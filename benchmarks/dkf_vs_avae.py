"""The DKF prior (checkerboard MH MCEM) beside the A-VAE (per-frame MH MCEM) on the bundled clips.

    OMP_NUM_THREADS=1 python benchmarks/dkf_vs_avae.py [--n-iter 100] [--seed 0]

Both through the same pipeline (``avgen enhance --model a-vae`` / ``--model dkf``) with its
default schedule (NMF rank 4, ``n_iter`` EM iterations of 40 MH sweeps, 30 burn-in, proposal
standard deviation 0.1; the DKF's sweeps are checkerboard MH on the latent trajectory) on
``avgen/assets/samples/*/noisy.wav``; prints SI-SDR and ESTOI against ``clean.wav`` and the
real-time factor (one thread). ``--dkf PATH`` runs another DKF checkpoint.
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

import torch

from avgen.audio import load_audio
from avgen.metrics import estoi, si_sdr
from avgen.models.dvae import load_dkf
from avgen.models.vae.registry import load_model
from avgen.pipelines.vae_nmf.pipeline import enhance
from avgen.pipelines.vae_nmf.schemes import EMSchedule


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-iter", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dkf", default="dkf", help="a DKF checkpoint (default: the bundled)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    samples = Path(str(resources.files("avgen"))) / "assets" / "samples"
    a_vae, dkf = load_model("a-vae"), load_dkf(args.dkf)
    rows = []
    for clip in sorted(p for p in samples.iterdir() if (p / "noisy.wav").is_file()):
        noisy, clean = load_audio(clip / "noisy.wav"), load_audio(clip / "clean.wav")
        seconds = noisy.numel() / 16000
        schedule = EMSchedule(n_iter=args.n_iter)
        out_a = enhance(noisy, a_vae, schedule=schedule, seed=args.seed)
        out_d = enhance(noisy, dkf, schedule=schedule, seed=args.seed)
        for name, est, took in (
            ("noisy", noisy, None),
            ("a-vae", out_a.estimate, out_a.info["seconds"]),
            ("dkf", out_d.estimate, out_d.info["seconds"]),
        ):
            rows.append(
                (
                    clip.name,
                    name,
                    float(si_sdr(clean, est)),
                    float(estoi(clean, est)),
                    None if took is None else took / seconds,
                )
            )
            r = rows[-1]
            rtf = "" if r[4] is None else f"{r[4]:.2f}"
            print(
                f"{r[0]:<12} {r[1]:<6} SI-SDR {r[2]:6.2f} dB  ESTOI {r[3]:.3f}  RTF {rtf}",
                flush=True,
            )
    print("\nmean over clips")
    for name in ("noisy", "a-vae", "dkf"):
        sel = [r for r in rows if r[1] == name]
        n = len(sel)
        print(
            f"{name:<6} SI-SDR {sum(r[2] for r in sel) / n:6.2f} dB  "
            f"ESTOI {sum(r[3] for r in sel) / n:.3f}"
        )


if __name__ == "__main__":
    main()
