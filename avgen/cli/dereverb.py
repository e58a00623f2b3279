"""``avgen dereverb``: unsupervised dereverberation with the diffusion prior and a jointly
estimated room (:func:`avgen.pipelines.diffusion.dereverberate`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from avgen.errors import AudioError, ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dereverb",
        help="dereverberate speech with the diffusion prior, "
        "estimating the room (T60 per band) jointly",
        description="Unsupervised dereverberation (BUDDy-style posterior "
        "sampling): writes the dry speech estimate, optionally the estimated "
        "room impulse response, and prints the estimated T60 per octave band.",
    )
    p.add_argument("input", type=Path, metavar="IN.wav", help="reverberant speech, 16 kHz mono")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.wav")
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
    p.set_defaults(handler=run)


def _check_output(path: Path, name: str) -> None:
    if path.suffix.lower() not in (".wav", ".flac"):
        raise AudioError(f"{path}: {name} must end in .wav or .flac")
    if not path.parent.is_dir():
        raise AudioError(f"{path}: the folder {path.parent} does not exist")


def run(args: argparse.Namespace) -> int:
    import torch

    from avgen.audio import load_audio, save_audio
    from avgen.pipelines.diffusion import dereverberate

    if args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")
    if args.steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {args.steps}")
    torch.set_num_threads(args.threads)
    _check_output(args.output, "the output")
    if args.rir_out is not None:
        _check_output(args.rir_out, "--rir-out")
    wav = load_audio(args.input, mixdown=args.mixdown, resample_to_target=args.resample)
    result = dereverberate(
        wav,
        prior=args.prior,
        steps=args.steps,
        sampler=args.sampler,
        seed=args.seed,
        device=args.device,
        progress=False if args.no_progress else None,
    )
    save_audio(args.output, result.estimate)
    if args.rir_out is not None:
        save_audio(args.rir_out, result.extras["rir"], subtype="FLOAT")
    print("estimated T60 per octave band:")
    for centre, t60 in result.extras["t60_per_band"].items():
        print(f"  {centre:>6.0f} Hz  {t60:.3f} s")
    print(f"  broadband (Schroeder T30 of the estimated RIR)  {result.info['t60_broadband']:.3f} s")
    print(
        f"wrote {args.output}"
        + (f" and {args.rir_out}" if args.rir_out else "")
        + f" ({result.info['seconds']:.1f} s, real-time factor "
        f"{result.info['real_time_factor']:.1f})"
    )
    return 0
