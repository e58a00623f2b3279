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

``--table quality`` asks the statistician's next question: does better mixing buy better
enhancement? For each E-step sampler of :data:`ESTEPS` (the papers' RWM, RWM with a larger
proposal variance, RWM adapted per frame, MALA adapted per frame, unadjusted Langevin, pCN) it
runs ``enhance`` with the bundled MIN-VAE (lips on) and the papers' schedule (100 EM
iterations of 40 steps, 30 burn-in) on the bundled unseen-noise test clips
(:data:`QUALITY_CLIPS`) and scores the estimate against the clean speech (SI-SDR, PESQ-WB,
ESTOI, means over the clips). Next to the scores, the same kernel with the same step size
(adapted the same way) is run from 4 over-dispersed chains (``--chain-steps``, a quarter burn-in)
on each clip's posterior at *that run's* final NMF parameters (``--frames`` middle frames): the
rank-normalised R-hat and bulk/tail ESS of the sampler the enhancement actually used.

    PYTHONPATH=. python benchmarks/mixing.py --table quality
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import NamedTuple

import torch

from avgen.audio import VAE_STFT, frames_major, load_audio, stft
from avgen.metrics import evaluate
from avgen.models import load_model
from avgen.models.vae.networks import lip_side
from avgen.models.vae.noisy_posterior import noisy_posterior
from avgen.pipelines.vae_nmf import EMSchedule, enhance
from avgen.samples import bundled_clip_dir, read_clip
from avgen.video_align import lips_for_audio, read_video
from inference.adaptation import DualAveraging
from inference.chain import MALA, RWM, ULA, Kernel, run_chain
from inference.convergence import ess_bulk, ess_tail, rank_normalized_split_rhat
from inference.esteps import MHEStep
from inference.mh import MHInfo

from _bench import markdown_header, markdown_row

CLIP = Path(__file__).resolve().parents[1] / "avgen" / "assets" / "samples" / "demo"
LAYOUT = "draw chain frame dim"
SAMPLERS: dict[str, tuple[Kernel, float, float | None]] = {
    "rwm-papers": (RWM, 0.1, None),
    "rwm-adapted": (RWM, 0.1, 0.3),
    "mala-adapted": (MALA, 0.1, 0.574),
}


class PCNState(NamedTuple):
    position: torch.Tensor  # (..., T, D)
    log_density: torch.Tensor  # (..., T)


def pcn_init(position, log_density_fn):
    return PCNState(position, log_density_fn(position))


def pcn_step(state, log_density_fn, step_size, generator=None):
    """Preconditioned Crank-Nicolson (docs/inference.md section 12): the proposal leaves
    N(0, I) invariant, so the ratio is the target's over N(0, I)'s (exact for any prior)."""
    beta = torch.as_tensor(step_size, dtype=state.position.dtype)
    beta = beta.unsqueeze(-1) if beta.dim() else beta
    noise = torch.randn(state.position.shape, generator=generator, dtype=beta.dtype)
    proposal = (1 - beta**2).sqrt() * state.position + beta * noise
    log_density = log_density_fn(proposal)
    log_ratio = (log_density + 0.5 * proposal.square().sum(-1)) - (
        state.log_density + 0.5 * state.position.square().sum(-1)
    )
    accept_prob = log_ratio.clamp(max=0.0).exp()
    accepted = torch.rand(accept_prob.shape, generator=generator) < accept_prob
    position = torch.where(accepted.unsqueeze(-1), proposal, state.position)
    kept = torch.where(accepted, log_density, state.log_density)
    return PCNState(position, kept), MHInfo(accept_prob, accepted, proposal)


PCN = Kernel("pcn", pcn_init, pcn_step, target_acceptance=0.3)


class EStepSetting(NamedTuple):
    """One E-step sampler: what ``enhance`` runs, and the same kernel for ``run_chain``."""

    scheme: object  # a scheme name, a Kernel or an EStep
    schedule: dict  # EMSchedule fields on top of the papers'
    kernel: Kernel
    step_size: float
    target_acceptance: float | None  # dual-averaging target in burn-in, None: fixed step
    text: str


ESTEPS: dict[str, EStepSetting] = {
    "rwm-papers": EStepSetting("mcem-mh", {}, RWM, 0.1, None, "RWM, sd 0.1 (var 0.01)"),
    "rwm-wide": EStepSetting(
        "mcem-mh", {"proposal_variance": 0.04}, RWM, 0.2, None, "RWM, sd 0.2 (var 0.04)"
    ),
    "rwm-adapted": EStepSetting(
        MHEStep(RWM, step_size=0.1, adapt=DualAveraging(0.3)),
        {},
        RWM,
        0.1,
        0.3,
        "RWM, per-frame sd adapted to acceptance 0.3",
    ),
    "mala-adapted": EStepSetting(
        "mcem-mala", {}, MALA, 0.1, 0.574, "MALA, per-frame step adapted to 0.574"
    ),
    "langevin": EStepSetting("langevin", {}, ULA, 0.02, None, "unadjusted Langevin, step 0.02"),
    "pcn": EStepSetting(PCN, {"proposal_variance": 0.04}, PCN, 0.2, None, "pCN, beta 0.2"),
}
QUALITY_CLIPS = ("demo", "city-0", "traffic-m5", "tv-5")


def target(n_frames: int, seconds: float, seed: int):
    noisy = load_audio(CLIP / "noisy.wav")[: int(seconds * 16_000)]
    video, fps = read_video(CLIP / "lips.npy", 25.0)
    video = video[: int(seconds * fps) + 1]
    model = load_model("min-vae").eval()
    result = enhance(
        noisy,
        model,
        lips=video,
        fps=fps,
        schedule=EMSchedule(n_iter=20, n_steps=40, burn_in=30),
        seed=seed,
    )
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


def middle_frames(n_total: int, n_frames: int) -> torch.Tensor:
    middle = n_total // 2
    return torch.arange(middle - n_frames // 2, middle - n_frames // 2 + n_frames)


def quality_table(args) -> None:
    """Enhancement quality next to R-hat/ESS, per E-step sampler (see the module docstring)."""
    model = load_model("min-vae").eval()
    clips = []
    for name in QUALITY_CLIPS:
        noisy, clean, video, fps, _ = read_clip(bundled_clip_dir(name))
        if args.clip_seconds:
            keep = int(args.clip_seconds * 16_000)
            noisy, clean = noisy[:keep], clean[:keep]
            video = video[: int(args.clip_seconds * fps) + 1]
        lips = lips_for_audio(video, fps, noisy.numel(), lip_size=lip_side(model.config.lip_dim))
        clips.append((name, noisy, clean, video, fps, lips))
    columns = (
        "E-step sampler", "s/clip", "accept", "R-hat median", "R-hat max", "share R-hat<1.01",
        "bulk ESS", "tail ESS", "SI-SDR (dB)", "PESQ-WB", "ESTOI",
    )  # fmt: skip
    print(markdown_header(*columns))
    noisy_scores = [evaluate(clean, noisy) for _, noisy, clean, *_ in clips]
    print(
        markdown_row(
            "noisy input", "", "", "", "", "", "", "",
            *(f"{sum(s[k] for s in noisy_scores) / len(clips):.{d}f}"
              for k, d in (("si_sdr", 2), ("pesq_wb", 2), ("estoi", 3))),
        ),
        flush=True,
    )  # fmt: skip
    for name in args.samplers:
        setting = ESTEPS[name]
        scores, seconds, accept, rhats, bulks, tails = [], [], [], [], [], []
        for k, (_, noisy, clean, video, fps, lips) in enumerate(clips):
            # every row with the papers' 40 steps of which 30 burn-in (the table predates the
            # halved default of MH, and its rows must share the numbers)
            papers = {"n_steps": 40, "burn_in": 30}
            schedule = EMSchedule(**{**papers, **setting.schedule, "n_iter": args.n_iter})
            start = time.perf_counter()
            result = enhance(
                noisy, model, lips=video, fps=fps, scheme=setting.scheme, schedule=schedule,
                seed=args.seed + k,
            )  # fmt: skip
            seconds.append(time.perf_counter() - start)
            scores.append(evaluate(clean, result.estimate))
            if result.info["final_acceptance"] is not None:
                accept.append(result.info["final_acceptance"])
            x = frames_major(stft(noisy, VAE_STFT))
            frames = middle_frames(x.shape[0], args.frames)
            posterior = noisy_posterior(model, x, lips, result.noise, frames=frames)
            noise = torch.randn(
                args.chains,
                *posterior.initial_position.shape,
                generator=torch.Generator().manual_seed(args.seed + k),
            )
            adapt = (
                None
                if setting.target_acceptance is None
                else DualAveraging(setting.target_acceptance)
            )
            chain = run_chain(
                setting.kernel,
                posterior.initial_position + noise,
                posterior.log_density,
                n_steps=args.chain_steps,
                burn_in=args.chain_steps // 4,
                step_size=setting.step_size,
                adapt=adapt,
                generator=torch.Generator().manual_seed(args.seed + k),
            )
            rhats.append(rank_normalized_split_rhat(chain.samples, layout=LAYOUT).flatten())
            bulks.append(ess_bulk(chain.samples, layout=LAYOUT).flatten())
            tails.append(ess_tail(chain.samples, layout=LAYOUT).flatten())
        rhat, bulk, tail = torch.cat(rhats), torch.cat(bulks), torch.cat(tails)
        print(
            markdown_row(
                f"{name}: {setting.text}" + (f", seed {args.seed}" if args.seed else ""),
                f"{sum(seconds) / len(seconds):.1f}",
                f"{sum(accept) / len(accept):.2f}" if accept else "",
                f"{float(rhat.median()):.2f}",
                f"{float(rhat.max()):.2f}",
                f"{float((rhat < 1.01).double().mean()):.2f}",
                f"{float(bulk.median()):.0f}",
                f"{float(tail.median()):.0f}",
                *(
                    f"{sum(s[key] for s in scores) / len(scores):.{digits}f}"
                    for key, digits in (("si_sdr", 2), ("pesq_wb", 2), ("estoi", 3))
                ),
            ),
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per sampler")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=2.0, help="of the clip")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--table", choices=("equal-time", "quality", "both"), default="equal-time",
        help="equal-time: R-hat/ESS at equal wall time on one clip; quality: enhancement "
        "scores next to R-hat/ESS per E-step sampler on the bundled test clips",
    )  # fmt: skip
    parser.add_argument("--n-iter", type=int, default=100, help="EM iterations (quality table)")
    parser.add_argument(
        "--samplers", nargs="+", choices=tuple(ESTEPS), default=list(ESTEPS),
        help="E-step samplers of the quality table (default: all)",
    )  # fmt: skip
    parser.add_argument(
        "--clip-seconds", type=float, default=None, help="crop the clips (quality; default: whole)"
    )
    parser.add_argument(
        "--chain-steps", type=int, default=1000, help="steps per chain of the R-hat runs (quality)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.table in ("quality", "both"):
        quality_table(args)
        if args.table == "quality":
            return
        print()
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
