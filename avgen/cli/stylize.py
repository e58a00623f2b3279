"""``avgen stylize``: audio-visual soundscape stylization -- speech re-rendered with the
reverberation and ambience of an audio-visual example
(:func:`avgen.pipelines.scene.stylize.stylize`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stylize",
        help="re-render speech in the scene of an audio-visual example (soundscape stylization)",
        description="Soundscape stylization: a latent diffusion model, conditioned on a few "
        "seconds of a target scene's sound and/or its picture, re-renders the speech with that "
        "scene's reverberation and ambience. Without --example and --image the bundled example "
        "scene is used. The output has the input's length.",
    )
    p.add_argument("input", type=Path, metavar="SPEECH.wav", help="clean speech, 16 kHz mono")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.wav")
    p.add_argument(
        "--example",
        type=Path,
        default=None,
        metavar="CLIP.wav",
        help="a clip recorded in the target scene (at least 1 s)",
    )
    p.add_argument(
        "--image",
        type=Path,
        default=None,
        metavar="SCENE.png",
        help="a picture of the target scene (picture-only when --example is not given)",
    )
    p.add_argument(
        "--guidance",
        type=float,
        default=2.0,
        help="classifier-free guidance scale: 0 ignores the example, 1 = conditional model, "
        ">1 pushes towards the example (default 2.0)",
    )
    p.add_argument("--steps", type=int, default=25, help="reverse diffusion steps (default 25)")
    p.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="FIG.png",
        help="draw input, example and output spectrograms (.png, .pdf, .svg)",
    )
    p.add_argument(
        "--stylizer",
        type=Path,
        default=None,
        metavar="CKPT",
        help="weights from `avgen train --model stylizer` (default: the bundled ones)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    p.add_argument(
        "--resample", action="store_true", help="resample inputs at another sample rate to 16 kHz"
    )
    p.add_argument(
        "--mixdown", action="store_true", help="average the channels of a multichannel input"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """``avgen stylize`` -> :func:`avgen.pipelines.scene.stylize_file.stylize_file` -> print."""
    import torch

    from avgen.errors import ConfigError
    from avgen.pipelines.scene.stylize import bundled_example
    from avgen.pipelines.scene.stylize_file import StylizeRequest, stylize_file

    if args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    example, image = args.example, args.image
    notes = []
    if example is None and image is None:
        example, image = bundled_example()
        notes.append(f"note: no --example or --image: the bundled example scene ({example.name})")
    request = StylizeRequest(
        source=args.input,
        output=args.output,
        example=example,
        image=image,
        plot=args.plot,
        stylizer=args.stylizer,
        guidance=args.guidance,
        steps=args.steps,
        resample=args.resample,
        mixdown=args.mixdown,
        seed=args.seed,
        device=args.device,
    )
    print("\n".join([*notes, *stylize_file(request).lines]))
    return 0
