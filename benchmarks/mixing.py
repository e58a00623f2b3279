"""Does the papers' E-step sampler mix? R-hat and ESS at equal wall time, on a few frames.

The target is a bundled MIN-VAE's enhancement posterior ``p(z_t | x_t)`` on ``--frames`` frames
of the bundled demo clip at the NMF parameters of a short enhancement
(:func:`avgen.models.vae.noisy_posterior.noisy_posterior`). Four chains per sampler start from
the same over-dispersed points (the model's start plus unit noise). Each sampler gets the same
wall-time budget: its steps per second are measured first, then it runs
``budget * steps_per_second`` steps, the first quarter burn-in (adaptation, where there is any).

* ``rwm-papers``: random-walk MH with the papers' fixed proposal variance 0.01 (sd 0.1);
* ``rwm-adapted``: the same kernel, one step size per frame by dual averaging (target 0.3);
* ``mala-adapted``: MALA, one step size per frame (target 0.574).

Reported, over all (frame, dim) coordinates: the largest and median rank-normalised split
R-hat (Vehtari et al. 2021), the median bulk and tail ESS, and the median bulk ESS per second.
The papers' own E-step keeps the last 10 of 40 RWM steps per EM iteration; the first row is
four such E-steps in a row at fixed NMF parameters (chains continued), 40 draws per chain, as in
the issue's measurement of 4 chains x 4 EM iterations.

Run alone on a quiet machine: ``PYTHONPATH=. python benchmarks/mixing.py --budget 20``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from avgen.audio import VAE_STFT, frames_major, load_audio, stft
from avgen.models import load_model
from avgen.models.vae.networks import lip_side
from avgen.models.vae.noisy_posterior import noisy_posterior
from avgen.pipelines.vae_nmf import EMSchedule, enhance
from avgen.video_align import lips_for_audio, read_video
from inference.adaptation import DualAveraging
from inference.chain import MALA, RWM, Kernel, run_chain
from inference.convergence import ess_bulk, ess_tail, rank_normalized_split_rhat

from _bench import markdown_header, markdown_row

CLIP = Path(__file__).resolve().parents[1] / "avgen" / "assets" / "samples" / "demo"
LAYOUT = "draw chain frame dim"
SAMPLERS: dict[str, tuple[Kernel, float, float | None]] = {
    "rwm-papers": (RWM, 0.1, None),
    "rwm-adapted": (RWM, 0.1, 0.3),
    "mala-adapted": (MALA, 0.1, 0.574),
}


def target(n_frames: int, seconds: float, seed: int):
    noisy = load_audio(CLIP / "noisy.wav")[: int(seconds * 16_000)]
    video, fps = read_video(CLIP / "lips.npy", 25.0)
    video = video[: int(seconds * fps) + 1]
    model = load_model("min-vae").eval()
    result = enhance(noisy, model, lips=video, fps=fps, schedule=EMSchedule(n_iter=20), seed=seed)
    x = frames_major(stft(noisy, VAE_STFT))
    lips = lips_for_audio(video, fps, noisy.numel(), lip_size=lip_side(model.config.lip_dim))
    middle = x.shape[0] // 2
    frames = torch.arange(middle - n_frames // 2, middle - n_frames // 2 + n_frames)
    return noisy_posterior(model, x, lips, result.noise, frames=frames)


def run(name: str, posterior, starts: torch.Tensor, n_steps: int, seed: int):
    kernel, step, target_acceptance = SAMPLERS[name]
    adapt = None if target_acceptance is None else DualAveraging(target_acceptance)
    start = time.perf_counter()
    result = run_chain(
        kernel,
        starts,
        posterior.log_density,
        n_steps=n_steps,
        burn_in=n_steps // 4,
        step_size=step,
        adapt=adapt,
        generator=torch.Generator().manual_seed(seed),
    )
    return result, time.perf_counter() - start


def papers_schedule(posterior, starts: torch.Tensor, seed: int, n_iter: int = 4):
    """The last 10 of 40 RWM steps of ``n_iter`` consecutive E-steps, chains continued."""
    state, kept, gen = starts, [], torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(n_iter):
        result = run_chain(
            RWM, state, posterior.log_density, n_steps=40, burn_in=30, step_size=0.1, generator=gen
        )
        kept.append(result.samples)
        state = result.state
    return torch.cat(kept), time.perf_counter() - start


def row(name: str, draws: torch.Tensor, seconds: float, acceptance: float) -> str:
    rhat = rank_normalized_split_rhat(draws, layout=LAYOUT)
    bulk, tail = ess_bulk(draws, layout=LAYOUT), ess_tail(draws, layout=LAYOUT)
    return markdown_row(
        name,
        draws.shape[0],
        f"{seconds:.1f}",
        f"{acceptance:.2f}",
        f"{float(rhat.max()):.2f}",
        f"{float(rhat.median()):.3f}",
        f"{float((rhat < 1.01).double().mean()):.2f}",
        f"{float(bulk.median()):.0f}",
        f"{float(tail.median()):.0f}",
        f"{float(bulk.median()) / seconds:.1f}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per sampler")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=2.0, help="of the clip")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    posterior = target(args.frames, args.seconds, args.seed)
    noise = torch.randn(
        args.chains,
        *posterior.initial_position.shape,
        generator=torch.Generator().manual_seed(args.seed),
    )
    starts = posterior.initial_position + noise
    print(
        markdown_header(
            "sampler", "draws/chain", "s", "accept", "R-hat max", "R-hat median",
            "share R-hat<1.01", "bulk ESS", "tail ESS", "bulk ESS/s",
        )
    )  # fmt: skip
    draws, seconds = papers_schedule(posterior, starts, args.seed)
    print(row("papers' E-step x4 (10 of 40 kept)", draws, seconds, float("nan")))
    for name in SAMPLERS:
        _, pilot = run(name, posterior, starts, 200, args.seed)
        n_steps = max(int(args.budget / pilot * 200), 40)
        result, seconds = run(name, posterior, starts, n_steps, args.seed)
        print(row(name, result.samples, seconds, float(result.acceptance_rate.mean())))


if __name__ == "__main__":
    main()
