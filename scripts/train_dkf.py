"""Train the bundled DKF prior on a speech kit and write ``dkf.pt`` + its model card.

    python scripts/train_dkf.py --kit /work/data/fullkit --dest avgen/assets/models \
        [--epochs 60] [--seed 0] [--latent-dim 32 --rnn-dim 192 ...] [--max-minutes 25]

Trains on the kit's train split (segments of 50 frames), keeps the best weights on the val
split (speakers unseen in training), reports the ELBO per frame on val and test, and, for
comparison on the same frames, the bundled A-VAE's per-frame ELBO (one particle, fixed seed).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from avgen.data.kit.records import manifest_hash, read_kit_info
from avgen.models.dvae import (
    DKFConfig,
    DKFTrainConfig,
    RecurrentVAE,
    RVAEConfig,
    dkf_elbo_per_frame,
    fit_dkf,
    load_dkf,
    load_kit_sequences,
    load_rvae,
    save_dkf,
    segment_sequences,
)
from avgen.models.vae.registry import write_model_card

# ruff: noqa: E501  (the card's table rows are long lines of Markdown)
BODY = """# DKF (deep Kalman filter speech prior; Bie et al. 2022)

A dynamical VAE speech prior of avgen (`dkf`): `z_t | z_{{t-1}}` a gated Gaussian transition
(Krishnan et al. 2017, Pyro's deep Markov model), `s_t | z_t ~ N_c(0, v(z_t))` with the
per-frame decoder of the VAE priors, and a backward-GRU inference network (the guide).
Equations: `avgen/models/dvae/dkf.py`. Its posterior over the latent trajectory is sampled by
the checkerboard MH kernel of `inference.markov_mh`.

| | |
|---|---|
| data | `{kit}` (kit size `{size}`, seed {kit_seed}): train split {train_utts} utterances, {train_frames} frames ({train_hours:.3f} h), {train_spk} speakers; real speech and TTS as the kit's card says |
| settings | L={latent}, decoder hidden {hidden}, transition hidden {trans}, GRU {rnn}; {n_params:,} parameters; segments of {seg} frames, batch {batch}, Adam lr {lr} (x{lr_decay} per epoch), KL warm-up {warm} epochs, patience {patience}{budget} |
| epochs | {epochs} (best {best}) |
| training time | {minutes:.1f} min on one CPU thread (shared 2-core machine) |
| validation ELBO | {val:.2f} nats/frame (val split, {seg}-frame segments, speakers unseen in training) |
| test ELBO | {test:.2f} nats/frame (test split) |
| A-VAE on the same test segments | {avae_test:.2f} nats/frame (bundled `a-vae`, one particle, same seed) |

ELBO convention: Exponential likelihood on the power spectrogram (add -513 log(pi) per frame
for the complex Gaussian's), one Monte-Carlo particle, fixed seed.

Reproduce: `OMP_NUM_THREADS=1 python scripts/train_dkf.py --kit KIT --dest DIR {cli}`.
"""


@torch.no_grad()
def a_vae_elbo(segments: torch.Tensor, seed: int) -> float:
    from avgen.models.vae.elbo import evaluate_elbo
    from avgen.models.vae.frames import FrameTensors
    from avgen.models.vae.registry import load_model

    frames = FrameTensors(segments.reshape(-1, segments.shape[-1]))
    return float(evaluate_elbo(load_model("a-vae"), frames, seed=seed, num_particles=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kit", required=True)
    parser.add_argument("--dest", required=True)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--patience", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--lr-decay", type=float, default=1.0, help="per-epoch factor")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--segment-frames", type=int, default=50)
    parser.add_argument("--kl-warmup-epochs", type=float, default=2.0)
    parser.add_argument("--max-minutes", type=float, default=None, help="wall-clock budget")
    parser.add_argument("--latent-dim", type=int, default=DKFConfig.latent_dim)
    parser.add_argument("--hidden-dim", type=int, default=DKFConfig.hidden_dim)
    parser.add_argument("--transition-dim", type=int, default=DKFConfig.transition_dim)
    parser.add_argument("--rnn-dim", type=int, default=DKFConfig.rnn_dim)
    parser.add_argument(
        "--model",
        choices=("dkf", "rvae"),
        default="dkf",
        help="rvae: the recurrent VAE instead (--latent-dim, --rnn-dim for its decoder GRU and "
        "each direction of its encoder BiGRU); writes rvae.pt and prints its ELBOs, no card",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    train = load_kit_sequences(args.kit, "train")
    val = load_kit_sequences(args.kit, "val")
    test = load_kit_sequences(args.kit, "test")
    config = DKFTrainConfig(
        epochs=args.epochs,
        patience=args.patience,
        lr=args.lr,
        lr_decay=args.lr_decay,
        batch_size=args.batch_size,
        segment_frames=args.segment_frames,
        kl_warmup_epochs=args.kl_warmup_epochs,
        max_minutes=args.max_minutes,
    )
    model_config = DKFConfig(
        latent_dim=args.latent_dim,
        hidden_dim=args.hidden_dim,
        transition_dim=args.transition_dim,
        rnn_dim=args.rnn_dim,
    )
    model = None
    if args.model == "rvae":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(args.seed)
            model = RecurrentVAE(
                RVAEConfig(
                    latent_dim=args.latent_dim,
                    decoder_rnn_dim=args.rnn_dim,
                    encoder_rnn_dim=args.rnn_dim,
                )
            )
    result = fit_dkf(
        train,
        config,
        val=val,
        model=model,
        model_config=model_config,
        seed=args.seed,
        on_epoch=lambda r: print(
            f"epoch {r.epoch}: train {r.train_objective:.1f}, val {r.val_elbo:.1f}, "
            f"{r.seconds:.1f} s",
            flush=True,
        ),
    )
    dest = Path(args.dest)
    path = save_dkf(
        dest / f"{args.model}.pt",
        result,
        config=config,
        seed=args.seed,
        data=str(args.kit),
        data_manifest_hash=manifest_hash(args.kit),
    )
    model = load_dkf(path) if args.model == "dkf" else load_rvae(path)
    test_seg = segment_sequences(test, config.segment_frames)
    test_elbo = dkf_elbo_per_frame(model, test_seg, seed=1)
    avae_test = a_vae_elbo(test_seg, seed=1)
    if args.model == "rvae":
        n_params = sum(p.numel() for p in model.parameters())
        print(
            f"wrote {path} ({n_params:,} parameters); val ELBO {result.best_val_elbo:.2f}, "
            f"test ELBO {test_elbo:.2f}, a-vae on the same test frames {avae_test:.2f}"
        )
        return
    info = read_kit_info(args.kit)
    c = model.config
    fields = {
        "model": "dkf",
        "epochs": len(result.history),
        "best_epoch": result.best_epoch,
        "val_elbo_per_frame": f"{result.best_val_elbo:.2f}",
        "test_elbo_per_frame": f"{test_elbo:.2f}",
        "training_time": f"{result.seconds / 60:.1f} min",
        "seed": args.seed,
        "data_manifest_hash": manifest_hash(args.kit),
        "data": f"{Path(args.kit).name} kit, train split",
        "data_licence": "see the kit's LICENSES/ (CC-BY-SA-3.0 Asterisk prompts, CMU ARCTIC, TTS)",
        "config": json.dumps(c.to_dict(), sort_keys=True),
    }
    body = BODY.format(
        kit=Path(args.kit).name,
        size=info.size,
        kit_seed=info.seed,
        train_utts=len(train),
        train_frames=sum(s.shape[0] for s in train),
        train_hours=sum(s.shape[0] for s in train) * 256 / 16000 / 3600,
        train_spk=info.extra["speech"]["train"]["speakers"],
        latent=c.latent_dim,
        hidden=c.hidden_dim,
        trans=c.transition_dim,
        rnn=c.rnn_dim,
        n_params=sum(p.numel() for p in model.parameters()),
        seg=config.segment_frames,
        batch=config.batch_size,
        lr=config.lr,
        lr_decay=config.lr_decay,
        budget=f", budget {config.max_minutes:g} min" if config.max_minutes else "",
        warm=config.kl_warmup_epochs,
        patience=config.patience,
        epochs=len(result.history),
        best=result.best_epoch,
        minutes=result.seconds / 60,
        val=result.best_val_elbo,
        test=test_elbo,
        avae_test=avae_test,
        cli=" ".join(
            f"--{k.replace('_', '-')} {v}"
            for k, v in vars(args).items()
            if k not in ("kit", "dest") and v is not None
        ),
    )
    write_model_card(dest / "dkf.md", fields, body)
    print(
        f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB); test ELBO {test_elbo:.2f}, "
        f"a-vae on the same frames {avae_test:.2f}"
    )


if __name__ == "__main__":
    main()
