"""Training speed and quality of the five VAE speech priors on synthetic frames.

    flock /tmp/avgen-heavy.lock python benchmarks/vae_training.py              # speed only
    flock /tmp/avgen-heavy.lock python benchmarks/vae_training.py --train      # + training

Synthetic frames (:mod:`avgen.models.vae.synthetic`: 513 bins, 32x32 lips, 8 latent factors of
which the lips know 4) stand in for a data kit.

Speed: the time of one SVI step (batch 128) per model, the median of ``--repeats`` runs of
``--steps`` steps, the models interleaved run by run so that a change of machine load hits
all of them alike; ratio to the A-VAE's, measured in the same process.

Training (``--train``): the papers' recipe on ``--frames`` frames for ``--epochs`` epochs
(Adam, batch 128, no early stopping): A-VAE, V-VAE, AV-VAE, AV-CVAE from scratch, then the
MIN-VAE initialised from that A-VAE and V-VAE. Total time (validation included) and best
validation ELBO in nats per frame, next to the fixed-variance baseline.
"""

from __future__ import annotations

import argparse
import statistics
import time

import pyro
import torch
from pyro.infer import SVI

from avgen.models.vae import MODEL_NAMES, TrainConfig, build_model, fit
from avgen.models.vae.elbo import fixed_variance_log_likelihood
from avgen.models.vae.synthetic import synthetic_frames

COMMON = {"n_freq": 513, "lip_dim": 1024, "factors": 8, "visual_factors": 4}


def step_times(size: str, batch: int, steps: int, repeats: int) -> dict[str, float]:
    """Median seconds per SVI step of each model (interleaved repeats)."""
    data = synthetic_frames(batch, seed=3, **COMMON)
    runners = {}
    for name in MODEL_NAMES:
        model = build_model(name, size=size)
        model.initialize_from_data(data.power)
        with pyro.get_param_store().scope() as scope:
            svi = SVI(
                model.model,
                model.training_guide(),
                pyro.optim.Adam({"lr": 1e-3}),
                model.make_elbo(),
            )
            for _ in range(3):
                svi.step(data.power, data.lips)
        runners[name] = (svi, scope)
    times: dict[str, list[float]] = {name: [] for name in MODEL_NAMES}
    for _ in range(repeats):
        for name, (svi, scope) in runners.items():
            with pyro.get_param_store().scope(scope):
                start = time.perf_counter()
                for _ in range(steps):
                    svi.step(data.power, data.lips)
                times[name].append((time.perf_counter() - start) / steps)
    return {name: statistics.median(t) for name, t in times.items()}


def train_all(args: argparse.Namespace) -> list[tuple[str, float, float, int]]:
    train = synthetic_frames(args.frames, seed=1, **COMMON)
    val = synthetic_frames(args.val_frames, seed=2, **COMMON)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=None)
    rows, trained = [], {}
    for name in MODEL_NAMES:
        model = build_model(name, size=args.size, seed=args.seed)
        if name == "min-vae":
            model.init_from(trained["a-vae"], trained["v-vae"])
        start = time.perf_counter()
        result = fit(model, train, val, config, seed=args.seed, progress=False)
        rows.append((name, time.perf_counter() - start, result.best_val_elbo, result.best_epoch))
        trained[name] = result.model
        print(f"  trained {name}: {rows[-1][1]:.0f} s", flush=True)
    rows.append(
        ("baseline", float("nan"), fixed_variance_log_likelihood(train.power, val.power), -1)
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", choices=("small", "paper"))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--train", action="store_true", help="also train all five models")
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--val-frames", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, size {args.size}, "
        f"batch {args.batch_size}"
    )

    times = step_times(args.size, args.batch_size, args.steps, args.repeats)
    steps_per_epoch = -(-args.frames // args.batch_size)
    print(
        f"\n{'model':<9} {'params':>9} {'ms/step':>8} {'x a-vae':>8} "
        f"{'s/epoch of ' + str(args.frames):>16}"
    )
    for name, seconds in times.items():
        n_params = sum(p.numel() for p in build_model(name, size=args.size).parameters())
        print(
            f"{name:<9} {n_params:>9,} {1e3 * seconds:>8.1f} "
            f"{seconds / times['a-vae']:>8.2f} {seconds * steps_per_epoch:>16.1f}"
        )
    print(f"(median of {args.repeats} runs of {args.steps} steps; s/epoch excludes validation)")

    if args.train:
        print(
            f"\ntraining: {args.frames} train / {args.val_frames} val frames, "
            f"{args.epochs} epochs x {steps_per_epoch} steps"
        )
        rows = train_all(args)
        print(f"\n{'model':<9} {'total s':>8} {'best val ELBO/frame':>20} {'best epoch':>11}")
        for name, total, elbo, epoch in rows:
            print(f"{name:<9} {total:>8.1f} {elbo:>20.1f} {epoch:>11}")
        print(
            "(min-vae initialised from the a-vae and v-vae above; baseline: fixed per-bin variance)"
        )


if __name__ == "__main__":
    main()
