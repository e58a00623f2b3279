"""Speed of MVSD: training steps (and crops) per second, and the real-time factor of matching and
picture-conditioned dereverberation, for the ``tiny`` and ``small`` sizes, on the CPU or a GPU.

Training: ``--train-steps`` optimiser steps of :func:`avgen.models.mvsd.train.fit_mvsd` on
synthetic paired and unpaired items (1-second crops, batch ``--batch-size``), with and without
the cycle terms (``lambda_cycle = 0`` and no unpaired data: the denoising and style terms
alone), timed after a one-step warm-up run; samples/s counts the paired crops. Inference: a
``--seconds`` clip matched and dereverberated with ``--steps`` EDM Heun levels (random weights:
speed does not depend on them), median of ``--repeats`` runs after a warm-up; the ratio column
divides by the time of the same number of bare reverberator evaluations in the same process.
Real-time factor = wall time / audio duration. The paper reports about 1.09 s per clip on a GPU.

    python benchmarks/mvsd_speed.py [--sizes tiny small] [--device cuda] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch

from _bench import markdown_header, markdown_row, median_time


def synthetic_items(n: int, seconds: float, gen: torch.Generator) -> list[dict]:
    length = int(seconds * 16000)
    items = []
    for _ in range(n):
        clean = torch.randn(length, generator=gen) * 0.1
        reverberant = torch.randn(length + 16000, generator=gen) * 0.1
        items.append({"clean": clean, "reverberant": reverberant,
                      "picture": torch.rand(3, 128, 128, generator=gen)})  # fmt: skip
    return items


def train_rate(size: str, cycle: bool, args: argparse.Namespace) -> tuple[float, float]:
    from avgen.models.mvsd.config import MVSDTrainConfig, mvsd_config
    from avgen.models.mvsd.train import fit_mvsd

    gen = torch.Generator().manual_seed(0)
    paired = synthetic_items(8, 2.0, gen)
    unpaired_rev = [{"reverberant": it["reverberant"], "picture": it["picture"]} for it in paired]
    unpaired_clean = [{"clean": it["clean"]} for it in paired]
    config = mvsd_config(size)

    def run(steps: int) -> float:
        tcfg = MVSDTrainConfig(
            steps=steps, batch_size=args.batch_size, warmup_steps=0, use_unpaired=cycle,
            paired_cycle=cycle, lambda_cycle=0.5 if cycle else 0.0, log_every=max(steps, 1),
        )  # fmt: skip
        t0 = time.perf_counter()
        fit_mvsd(paired, unpaired_rev, unpaired_clean, None, config, tcfg,
                 device=args.device, progress=False)  # fmt: skip
        return time.perf_counter() - t0

    run(1)
    seconds = run(args.train_steps) - run(1)
    per_step = seconds / max(args.train_steps - 1, 1)
    return 1.0 / per_step, args.batch_size / per_step


def inference_rates(size: str, args: argparse.Namespace) -> dict[str, float]:
    from avgen.models.mvsd.config import mvsd_config
    from avgen.models.mvsd.model import MVSD

    torch.manual_seed(0)
    model = MVSD(mvsd_config(size)).to(args.device).eval()
    n = int(args.seconds * 16000)
    dry = torch.randn(n, device=args.device) * 0.1
    picture = torch.rand(1, 3, 128, 128, device=args.device)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else None

    def gen() -> torch.Generator:
        return torch.Generator(device=args.device).manual_seed(0)

    match_t = median_time(lambda: model.match(dry, picture, steps=args.steps, generator=gen()),
                          args.repeats, sync=sync)  # fmt: skip
    rev = torch.randn(n + model.config.tail_samples, device=args.device) * 0.1
    der_t = median_time(
        lambda: model.dereverberate(rev, picture, steps=args.steps, generator=gen()),
        args.repeats, sync=sync,
    )  # fmt: skip
    # the bare network: 2 * steps - 1 evaluations of Heun's method at the matched length
    from avgen.models.mvsd.model import spectrogram

    with torch.no_grad():
        padded = torch.nn.functional.pad(dry, (0, model.config.tail_samples))[None]
        spec, _ = spectrogram(padded, model.multiple)
        scene = model.scene(picture)
        sigma = torch.full((1,), 1.0, device=args.device)
        evals = 2 * args.steps - 1

        def bare() -> None:
            for _ in range(evals):
                model.reverberator.denoise(spec, sigma, spec, scene)

        bare_t = median_time(bare, args.repeats, sync=sync)
    return {
        "match_rtf": match_t / (args.seconds + model.config.tail_seconds),
        "dereverb_rtf": der_t / (rev.numel() / 16000),
        "match_s": match_t,
        "match_vs_bare": match_t / bare_t,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", default=["tiny", "small"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--steps", type=int, default=18)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--train-steps", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=4)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"device {args.device}, {args.threads} thread(s), clip {args.seconds:g} s, "
          f"{args.steps} sampling steps, batch {args.batch_size} x 1 s crops")  # fmt: skip
    print(markdown_header("size", "train steps/s (all terms)", "crops/s", "steps/s (no cycle)",
                          "match s/clip", "match RTF", "vs bare net", "dereverb RTF",
                          align="lrrrrrrr"))  # fmt: skip
    for size in args.sizes:
        full, crops = train_rate(size, True, args)
        plain, _ = train_rate(size, False, args)
        r = inference_rates(size, args)
        print(markdown_row(size, f"{full:.3f}", f"{crops:.2f}", f"{plain:.3f}",
                           f"{r['match_s']:.2f}", f"{r['match_rtf']:.2f}",
                           f"{r['match_vs_bare']:.2f}", f"{r['dereverb_rtf']:.2f}"))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
