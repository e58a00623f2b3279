"""``avgen dereverb``: unsupervised dereverberation with the diffusion prior and a jointly
estimated room (:func:`avgen.pipelines.diffusion.dereverberate`), of one recording of any
length (:func:`avgen.pipelines.dereverb_file.dereverb_file`) or of a batch of them."""

from __future__ import annotations

import argparse
from pathlib import Path

from avgen.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dereverb",
        help="dereverberate speech with the diffusion prior, "
        "estimating the room (T60 per band) jointly",
        description="Unsupervised dereverberation (BUDDy-style posterior "
        "sampling): writes the dry speech estimate, optionally the estimated "
        "room impulse response, and prints the estimated T60 per octave band.",
    )
    p.add_argument(
        "input",
        type=Path,
        metavar="IN.wav",
        help="reverberant speech, 16 kHz mono; or a folder of wavs, or a .txt list of paths, "
        "for a batch",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="OUT.wav",
        help="the estimate to write (a batch: the folder to write them in)",
    )
    p.add_argument(
        "--rir-out",
        type=Path,
        default=None,
        metavar="RIR.wav",
        help="also write the estimated impulse response (float WAV)",
    )
    p.add_argument("--steps", type=int, default=30, help="reverse diffusion steps")
    p.add_argument(
        "--sampler",
        default="ddim",
        help="reverse-process sampler: ddim (default, ancestral), euler, heun, pc, dpmpp_2m",
    )
    p.add_argument(
        "--prior",
        type=Path,
        default=None,
        metavar="CKPT",
        help="diffusion-prior checkpoint (default: the bundled prior)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    p.add_argument(
        "--resample", action="store_true", help="resample input at another sample rate to 16 kHz"
    )
    p.add_argument(
        "--mixdown", action="store_true", help="average the channels of a multichannel input"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    from avgen.cli.enhance import add_long_and_batch_arguments
    from avgen.cli.match import add_scene_arguments

    add_scene_arguments(p, image_required=False)

    add_long_and_batch_arguments(p, "dereverberated")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Parse -> one library call (:func:`avgen.pipelines.dereverb_file.dereverb_file`, or
    :func:`avgen.pipelines.batch.run_batch` of it) -> print."""
    import functools

    import torch

    from avgen.cli.enhance import run_cli_batch, segment_plan
    from avgen.pipelines.batch import is_batch_input
    from avgen.pipelines.dereverb_file import DereverbRequest, dereverb_file, dereverb_item

    if args.threads < 1 or args.jobs < 1:
        raise ConfigError(f"need --threads >= 1 and --jobs >= 1, got {args.threads}, {args.jobs}")
    if args.steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {args.steps}")
    if args.image is not None or args.mvsd is not None:
        return _run_with_picture(args)
    request = DereverbRequest(
        source=args.input,
        output=args.output,
        rir_out=args.rir_out,
        steps=args.steps,
        sampler=args.sampler,
        prior=args.prior,
        resample=args.resample,
        mixdown=args.mixdown,
        seed=args.seed,
        device=args.device,
        progress=False if args.no_progress else None,
        plan=segment_plan(args, "dereverb"),
    )
    if not is_batch_input(args.input):
        torch.set_num_threads(args.threads)
        print("\n".join(dereverb_file(request).lines))
        return 0
    if args.rir_out is not None:
        raise ConfigError("--rir-out is for one file; leave it out in a batch")
    return run_cli_batch(
        args, args.input, args.output, functools.partial(dereverb_item, request=request)
    )


def _run_with_picture(args: argparse.Namespace) -> int:
    """``--image``: the MVSD dereverberator, one file, conditioned on the room's picture."""
    from avgen.cli.match import run_scene
    from avgen.pipelines.batch import is_batch_input

    if is_batch_input(args.input):
        raise ConfigError("--image dereverberates one file; give a .wav, not a folder or list")
    if args.rir_out is not None:
        raise ConfigError("--rir-out is the blind path's estimated room; leave it out with --image")
    return run_scene(args, "dereverb")
