"""``avgen match``: visual acoustic matching -- dry speech rendered in the room a picture shows,
with the MVSD reverberator (:func:`avgen.pipelines.scene.mvsd.match`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_scene_arguments(p: argparse.ArgumentParser, *, image_required: bool) -> None:
    """The options ``avgen match`` and ``avgen dereverb --image`` share."""
    p.add_argument(
        "--image",
        type=Path,
        required=image_required,
        default=None,
        metavar="ROOM.png",
        help="a picture of the room (PNG, JPEG, ...; resized to 128x128, said when it is)"
        + ("" if image_required else ": dereverberate with the MVSD dereverberator"),
    )
    p.add_argument(
        "--mvsd",
        type=Path,
        default=None,
        metavar="CKPT",
        help="MVSD weights from `avgen train --model mvsd` (default: the bundled ones)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "match",
        help="render dry speech in the room a picture shows (visual acoustic matching, MVSD)",
        description="Visual acoustic matching: the MVSD reverberator, a conditional diffusion "
        "model, renders the dry speech as if spoken in the room of the picture. The output is "
        "longer than the input by the reverberation tail.",
    )
    p.add_argument("input", type=Path, metavar="CLEAN.wav", help="dry speech, 16 kHz mono")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.wav")
    add_scene_arguments(p, image_required=True)
    p.add_argument("--steps", type=int, default=25, help="reverse diffusion steps (default 25)")
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


def run_scene(args: argparse.Namespace, kind: str) -> int:
    """One file through an MVSD converter (``kind`` ``"match"`` or ``"dereverb"``) ->
    :func:`avgen.pipelines.scene.match_file.convert_file` -> print."""
    import torch

    from avgen.errors import ConfigError
    from avgen.pipelines.scene.match_file import SceneRequest, convert_file

    if args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    request = SceneRequest(
        kind=kind,  # type: ignore[arg-type]
        source=args.input,
        image=args.image,
        output=args.output,
        mvsd=args.mvsd,
        steps=args.steps,
        resample=args.resample,
        mixdown=args.mixdown,
        seed=args.seed,
        device=args.device,
        progress=False if args.no_progress else None,
    )
    print("\n".join(convert_file(request).lines))
    return 0


def run(args: argparse.Namespace) -> int:
    """``avgen match``."""
    return run_scene(args, "match")
