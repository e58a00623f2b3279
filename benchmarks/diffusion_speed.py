"""Speed of the diffusion samplers with the speech U-Nets: network evaluations per second and
real-time factor per sampler, for the ``tiny`` and ``small`` sizes, on the CPU or a CUDA GPU.

For each size, a clip of ``--seconds`` of audio (its compressed STFT, padded to the network's
frame multiple) is sampled with every registered sampler for ``--steps`` steps, plus the two
posterior pipelines' inner loops (UDiffSE enhancement: ``pc`` with the pseudo-likelihood and NMF
M-steps; dereverberation: DPS with a backward pass per step and the room M-step). Times are
medians over ``--repeats`` runs after a warm-up; "vs bare" divides by the time of the same
number of bare network evaluations in the same process (the cost of the samplers' own
arithmetic and hooks). Real-time factor = wall time / audio duration (below 1: faster than
real time).

    flock /tmp/avgen-heavy.lock python benchmarks/diffusion_speed.py [--device cuda] \
        [--sizes tiny small] [--seconds 4] [--steps 20] [--repeats 3] [--threads 1]

``small`` uses the bundled prior's weights; ``tiny`` random weights (speed does not depend on
them).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch

from avgen.models.diffusion import build_denoiser, load_diffusion_prior, unet_config
from avgen.pipelines.diffusion import dereverberate, enhance_diffusion
from inference.diffusion import SAMPLERS, get_sampler, karras_sigmas

from _bench import markdown_header, markdown_row, median_time


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_size(
    size: str, args: argparse.Namespace, device: torch.device, audio: torch.Tensor
) -> tuple[list[tuple[str, int, float]], float]:
    """Rows ``(label, evaluations, median seconds)`` for one network size, and the seconds of
    one bare network evaluation."""
    from inference.diffusion import run_sampler

    if size == "small":
        denoiser = load_diffusion_prior(device=device)
    else:
        torch.manual_seed(0)
        denoiser = build_denoiser(unet_config(size), 0.05).to(device).eval()
        denoiser.requires_grad_(False)
    factor = denoiser.net.config.downsampling_factor
    frames = 1 + audio.shape[-1] // 128
    frames += (-frames) % factor
    g = torch.Generator().manual_seed(1)
    x_T = torch.randn(1, 2, 256, frames, generator=g).to(device)
    sigmas = karras_sigmas(args.steps, 0.001, 1.0).to(device)
    sigma = torch.full((1,), 0.1, device=device)

    def bare() -> None:
        with torch.no_grad():
            for _ in range(args.steps):
                denoiser(x_T, sigma)

    per_eval = median_time(bare, args.repeats, sync=lambda: synchronize(device)) / args.steps
    rows: list[tuple[str, int, float]] = [("bare network", args.steps, per_eval * args.steps)]
    counter: dict[str, int] = {}

    def sample(name: str) -> None:
        spec = get_sampler(name)
        gen = torch.Generator(device).manual_seed(0)
        result = run_sampler(
            spec.step,
            denoiser,
            x_T * float(sigmas[0]),
            sigmas,
            generator=gen,
            autocast=args.autocast,
            options=spec.step_options(args.steps),
        )
        counter["evals"] = result.n_evals

    def enhance() -> None:
        counter["evals"] = enhance_diffusion(
            audio, prior=denoiser, steps=args.steps, device=device, progress=False
        ).info["n_evals"]

    def dereverb() -> None:
        counter["evals"] = dereverberate(
            audio, prior=denoiser, steps=args.steps, device=device, progress=False
        ).info["n_evals"]

    jobs: list[tuple[str, Callable[[], None]]] = [
        (name, lambda name=name: sample(name)) for name in SAMPLERS
    ]
    jobs += [("enhance (UDiffSE, pc + NMF)", enhance), ("dereverb (DPS + room)", dereverb)]
    for label, fn in jobs:
        seconds = median_time(fn, args.repeats, sync=lambda: synchronize(device))
        rows.append((label, counter["evals"], seconds))
    return rows, per_eval


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", nargs="+", default=["tiny", "small"])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--autocast", action="store_true", help="CUDA mixed precision")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"torch {torch.__version__} on {name} ({args.threads} CPU thread(s)), {args.seconds} s "
        f"of audio, {args.steps} steps, median of {args.repeats}"
    )
    n_samples = int(args.seconds * 16_000)
    audio = 0.05 * torch.randn(n_samples, generator=torch.Generator().manual_seed(0))
    print()
    print(
        markdown_header(
            "size", "sampler", "evals", "median s", "evals/s", "real-time factor", "vs bare"
        )
    )
    for size in args.sizes:
        rows, per_eval = bench_size(size, args, device, audio)
        for label, evals, seconds in rows:
            print(
                markdown_row(
                    size,
                    label,
                    evals,
                    f"{seconds:.3f}",
                    f"{evals / seconds:.1f}",
                    f"{seconds / args.seconds:.3f}",
                    f"{seconds / (evals * per_eval):.2f}",
                ),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
