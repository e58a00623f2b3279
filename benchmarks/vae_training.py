"""Training speed and quality of the five VAE speech priors on synthetic frames.

    flock /tmp/avgen-heavy.lock python benchmarks/vae_training.py --frames 20000 --epochs 20

Synthetic frames (:mod:`avgen.models.vae.synthetic`: 513 bins, 32x32 lips, 8 latent factors of
which the lips know 4) stand in for a data kit; every model trains with the same
:class:`~avgen.models.vae.train.TrainConfig` (Adam, batch 128, no early stopping). The table
gives the median time per SVI step over the epochs, its ratio to the A-VAE's (measured in the
same process), the total training time (validation included), and the best validation ELBO in
nats per frame next to the fixed-variance baseline.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from avgen.models.vae import MODEL_NAMES, TrainConfig, build_model, fit
from avgen.models.vae.synthetic import synthetic_frames
from avgen.models.vae.train import fixed_variance_log_likelihood


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--val-frames", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--size", default="small", choices=("small", "paper"))
    parser.add_argument("--models", nargs="+", default=list(MODEL_NAMES))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    common = {"n_freq": 513, "lip_dim": 1024, "factors": 8, "visual_factors": 4}
    train = synthetic_frames(args.frames, seed=1, **common)
    val = synthetic_frames(args.val_frames, seed=2, **common)
    baseline = fixed_variance_log_likelihood(train.power, val.power)
    steps_per_epoch = -(-args.frames // args.batch_size)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         patience=None)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.frames} train "
          f"/ {args.val_frames} val frames, {args.epochs} epochs x {steps_per_epoch} steps, "
          f"size {args.size}")
    rows = []
    for name in args.models:
        model = build_model(name, size=args.size, seed=args.seed)
        n_params = sum(p.numel() for p in model.parameters())
        start = time.perf_counter()
        result = fit(model, train, val, config, seed=args.seed, progress=False)
        total = time.perf_counter() - start
        step_ms = 1e3 * statistics.median(r.seconds for r in result.history) / steps_per_epoch
        rows.append((name, n_params, step_ms, total, result.best_val_elbo))
        print(f"  done {name}: {total:.0f} s", flush=True)
    reference = next((r[2] for r in rows if r[0] == "a-vae"), rows[0][2])
    print()
    print(f"{'model':<9} {'params':>9} {'ms/step':>8} {'x a-vae':>8} {'total s':>8} "
          f"{'val ELBO/frame':>15}")
    for name, n_params, step_ms, total, elbo in rows:
        print(f"{name:<9} {n_params:>9,} {step_ms:>8.1f} {step_ms / reference:>8.2f} "
              f"{total:>8.1f} {elbo:>15.1f}")
    print(f"{'baseline':<9} {'':>9} {'':>8} {'':>8} {'':>8} {baseline:>15.1f}  "
          f"(fixed per-bin variance)")
    print("ms/step: median over epochs of (epoch time incl. validation) / steps")


if __name__ == "__main__":
    main()
