"""``avgen train``: train a VAE speech prior on a data kit (a thin layer over
:func:`avgen.models.vae.kit.train_from_kit`), a diffusion prior (``--model
diffusion-prior``, a thin layer over :func:`avgen.models.diffusion.train_from_kit`), or MVSD on
a room kit (``--model mvsd``, :func:`avgen.models.mvsd.kit.train_from_room_kit`), or the
soundscape stylizer on a scene kit (``--model stylizer``,
:func:`avgen.models.stylizer.kit.train_from_scene_kit`)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from avgen.errors import ConfigError
from avgen.files import check_outputs_differ, check_writable
from avgen.runtime import check_device


def register(sub: argparse._SubParsersAction) -> None:
    from avgen.models.diffusion import SIZES as DIFFUSION_SIZES
    from avgen.models.vae.names import MODEL_NAMES, SIZES

    p = sub.add_parser(
        "train",
        help="train a speech prior (VAEs: a-vae, v-vae, av-vae, av-cvae, "
        "min-vae; or diffusion-prior) on a data kit",
        description="Train a VAE speech prior on the train split of a data kit, "
        "validating on its val split (speaker-disjoint); writes a checkpoint "
        "after every epoch (atomically) holding the best weights.",
    )
    p.add_argument(
        "--model", required=True, choices=(*MODEL_NAMES, "diffusion-prior", "mvsd", "stylizer")
    )
    p.add_argument(
        "--data",
        required=True,
        type=Path,
        help="data kit folder (mvsd: a room kit; stylizer: a scene kit)",
    )
    p.add_argument("--out", required=True, type=Path, help="checkpoint to write (.pt)")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument(
        "--size",
        choices=tuple(dict.fromkeys((*SIZES, *DIFFUSION_SIZES))),
        default=None,
        help="network sizes: VAEs paper (default: L=32, 128 hidden, "
        "512 visual units) or small; diffusion-prior tiny, small (default) or base",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="diffusion-prior, mvsd, stylizer: optimiser steps (default: the size's; mvsd 200, "
        "stylizer 300)",
    )
    p.add_argument(
        "--no-picture",
        action="store_true",
        help="mvsd: the ablation without the picture (no FiLM, no cross-attention)",
    )
    p.add_argument(
        "--no-unpaired",
        action="store_true",
        help="mvsd: the ablation without the unpaired sets (paired terms only)",
    )
    p.add_argument(
        "--content",
        choices=("dry", "enhanced"),
        default="dry",
        help="stylizer: the content input, the known dry speech (default) or the clip after the "
        "library's enhancement (a kit built with --enhanced; the paper's recipe)",
    )
    p.add_argument("--latent-dim", type=int, default=None, help="override the size's L")
    p.add_argument(
        "--hidden-dim", type=int, default=None, help="VAEs: override the size's hidden units"
    )
    p.add_argument("--visual-net", choices=("mlp", "cnn"), default="mlp")
    p.add_argument(
        "--responsibility",
        choices=("closed-form", "amortized"),
        default="closed-form",
        help="min-vae: how q(alpha) is set",
    )
    p.add_argument(
        "--kl-warmup",
        type=float,
        default=0.0,
        metavar="EPOCHS",
        help="epochs over which the KL weight rises linearly to 1",
    )
    p.add_argument(
        "--patience",
        type=int,
        default=10,
        help="stop after this many epochs without a better validation ELBO (0: never)",
    )
    p.add_argument(
        "--corrupt-share",
        type=float,
        default=None,
        help="share of frames whose audio-encoder input is corrupted "
        "(default: 0.5 for min-vae, 0 otherwise)",
    )
    p.add_argument(
        "--kit-noise",
        action="store_true",
        help="corrupt the audio-encoder input with the kit's seen noises (mixed "
        "into the training utterances) instead of synthetic white noise",
    )
    p.add_argument(
        "--augment",
        type=int,
        default=0,
        metavar="COPIES",
        help="VAEs: add COPIES perturbed copies of each train utterance (speed 0.9/1.0/1.1, "
        "Ko et al. 2015; VTLP alpha in [0.9, 1.1], Jaitly & Hinton 2013; seeded by --seed; "
        "never applied to val/test)",
    )
    p.add_argument(
        "--init-from-a-vae",
        type=Path,
        default=None,
        metavar="CKPT",
        help="min-vae: audio encoder + decoder from this A-VAE; v-vae: its decoder "
        "(kept frozen unless --no-freeze-decoder)",
    )
    p.add_argument(
        "--init-from-v-vae",
        type=Path,
        default=None,
        metavar="CKPT",
        help="min-vae: visual encoder from this V-VAE",
    )
    p.add_argument(
        "--freeze-decoder",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train the encoders only",
    )
    p.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="CKPT",
        help="continue an interrupted run (same settings) up to --epochs (VAEs) or --steps",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for torch (default: torch's choice; 1 is often fastest "
        "for these small networks on a busy machine)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def _build(args: argparse.Namespace):
    from avgen.checkpoint import load_checkpoint
    from avgen.models.vae.kit import build_for_training, check_parts
    from avgen.models.vae.registry import load_model, model_from_checkpoint

    if args.resume is not None:
        ckpt = load_checkpoint(args.resume, expected_model=args.model)
        model = model_from_checkpoint(ckpt, origin=str(args.resume))
        if args.freeze_decoder is None:  # keep the interrupted run's choice
            args.freeze_decoder = bool(
                ckpt.extra.get("train_config", {}).get("freeze_decoder", False)
            )
        return model, None, None
    check_parts(args.model, args.init_from_a_vae is not None, args.init_from_v_vae is not None)
    a_vae = load_model(args.init_from_a_vae, expected="a-vae") if args.init_from_a_vae else None
    v_vae = load_model(args.init_from_v_vae, expected="v-vae") if args.init_from_v_vae else None
    model = build_for_training(
        args.model,
        size=args.size,
        seed=args.seed,
        a_vae=a_vae,
        v_vae=v_vae,
        visual_net=args.visual_net,
        latent_dim=args.latent_dim,
        responsibility=args.responsibility,
        hidden_dim=args.hidden_dim,
    )
    return model, a_vae, v_vae


def run_diffusion(args: argparse.Namespace) -> int:
    """``--model diffusion-prior``: EDM denoising score matching on the kit's clean speech."""
    from avgen.models.diffusion import SIZES as DIFFUSION_SIZES
    from avgen.models.diffusion import train_from_kit

    size = args.size or "small"
    if size not in DIFFUSION_SIZES:
        raise ConfigError(
            f"--size {size} is not a diffusion-prior size; choose one of "
            f"{', '.join(DIFFUSION_SIZES)}"
        )
    overrides = {} if args.steps is None else {"steps": args.steps}
    fit = train_from_kit(
        args.data,
        size,
        args.out,
        seed=args.seed,
        device=args.device,
        resume=args.resume,
        progress=False if args.no_progress else None,
        **overrides,
    )
    print(f"trained diffusion-prior ({size}) for {fit.config.steps} steps")
    if fit.validation:
        last = fit.validation[-1]
        print(f"validation loss   {last['val_loss']:.4f} (zero network {last['val_baseline']:.4f})")
    print(f"checkpoint        {args.out} (card {Path(args.out).with_suffix('.md')})")
    return 0


def run_mvsd(args: argparse.Namespace) -> int:
    """``--model mvsd``: mutual learning of the two converters on a room kit."""
    from avgen.models.mvsd.kit import train_from_room_kit

    size = args.size or "small"
    if size not in ("tiny", "small"):
        raise ConfigError(f"--size {size} is not an mvsd size; choose tiny or small")
    overrides: dict = {"seed": args.seed, "use_unpaired": not args.no_unpaired}
    if args.steps is not None:
        overrides["steps"] = args.steps
    fit = train_from_room_kit(
        args.data,
        args.out,
        size=size,
        use_picture=not args.no_picture,
        device=args.device,
        progress=False if args.no_progress else None,
        resume=args.resume,
        **overrides,
    )
    print(f"trained mvsd ({size}) for {fit.train_config.steps} steps")
    print(f"checkpoint        {args.out} (card {Path(args.out).with_suffix('.md')})")
    return 0


def run_stylizer(args: argparse.Namespace) -> int:
    """``--model stylizer``: the autoencoder, then the latent diffusion model, on a scene kit."""
    from avgen.models.stylizer.kit import train_from_scene_kit

    size = args.size or "tiny"
    if size not in ("tiny", "small"):
        raise ConfigError(f"--size {size} is not a stylizer size; choose tiny or small")
    overrides: dict = {"seed": args.seed}
    if args.steps is not None:
        overrides["steps"] = args.steps
    fit = train_from_scene_kit(
        args.data,
        args.out,
        size=size,
        content=args.content,
        device=args.device,
        progress=False if args.no_progress else None,
        resume=args.resume,
        **overrides,
    )
    print(f"trained the stylizer ({size}): {len(fit.history)} diffusion steps")
    if fit.round_trip:
        print(
            "autoencoder round trip: "
            + ", ".join(f"{k} {v:.3g}" for k, v in fit.round_trip.items())
        )
    print(f"checkpoint        {args.out} (card {Path(args.out).with_suffix('.md')})")
    return 0


def run(args: argparse.Namespace) -> int:
    from avgen.data.perturb import Perturbation
    from avgen.models.vae.kit import train_from_kit
    from avgen.models.vae.train import TrainConfig

    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    check_device(args.device)
    if not (math.isfinite(args.kl_warmup) and args.kl_warmup >= 0):
        raise ConfigError(f"--kl-warmup must be a number of epochs >= 0, got {args.kl_warmup}")
    check_writable(args.out)
    check_outputs_differ(
        {"--out": args.out},
        {"--init-from-a-vae": args.init_from_a_vae, "--init-from-v-vae": args.init_from_v_vae},
    )
    if args.augment and args.model in ("diffusion-prior", "mvsd", "stylizer"):
        raise ConfigError("--augment applies to the VAE speech priors")
    if args.model == "diffusion-prior":
        return run_diffusion(args)
    if args.model == "mvsd":
        return run_mvsd(args)
    if args.model == "stylizer":
        return run_stylizer(args)
    if args.no_picture or args.no_unpaired:
        raise ConfigError("--no-picture and --no-unpaired apply to --model mvsd")
    if args.size is None:
        args.size = "paper"
    elif args.size not in ("paper", "small"):
        raise ConfigError(f"--size {args.size} is a diffusion-prior size; VAEs take paper or small")
    if args.steps is not None:
        raise ConfigError("--steps applies to --model diffusion-prior; VAEs take --epochs")
    if args.augment < 0:
        raise ConfigError(f"--augment must be a number of copies >= 0, got {args.augment}")
    model, a_vae, _ = _build(args)
    freeze = args.freeze_decoder
    if freeze is None:
        freeze = args.model == "v-vae" and a_vae is not None
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        kl_warmup_epochs=args.kl_warmup,
        patience=args.patience if args.patience > 0 else None,
        corrupt_share=args.corrupt_share,
        freeze_decoder=freeze,
        device=args.device,
    )
    result = train_from_kit(
        model,
        args.data,
        config,
        seed=args.seed,
        checkpoint=args.out,
        resume=args.resume,
        kit_noise=args.kit_noise,
        augment=Perturbation(copies=args.augment, seed=args.seed) if args.augment else None,
        progress=False if args.no_progress else None,
        log=print,
    )
    best = result.best_val_elbo
    print(
        f"epochs            {result.epochs_done}"
        + ("  (stopped early)" if result.stopped_early else "")
    )
    print(f"best epoch        {result.best_epoch}")
    print(
        f"best val ELBO     {best:.2f} nats/frame (Exponential on power; "
        f"{best - model.config.n_freq * math.log(math.pi):.2f} as complex Gaussian)"
    )
    print(f"training time     {result.seconds:.1f} s")
    print(f"checkpoint        {args.out}")
    return 0
