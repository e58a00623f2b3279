"""Per-frame MH speed: vectorised kernels vs a reference-style loop vs Pyro's RandomWalkKernel.

Problem (the VAE-NMF E-step at paper scale): T = 300 frames, F = 513 bins, L = 32 latent
dimensions, a random decoder L -> 128 (tanh) -> F log-variances, an observation simulated from
the model ``x = s + b`` with a rank-8 NMF noise variance (about 0 dB), gains 1. Every method
samples ``z | x`` for all frames; one "step" updates all T frames once.

Methods:

* ``rwm fused``      ``inference.mh.rwm_step`` on ``GaussianScaleLogDensity`` (one decoder call per
                     step, cached log density, per-frame accept), proposal sd 0.1 as in the papers;
* ``rwm fused adapt`` the same with per-frame step sizes adapted by dual averaging in warm-up;
* ``mala fused adapt`` MALA on the same density (one decoder forward + backward per step);
* ``rwm pyro-trace``  ``rwm_step`` on the generic per-frame log joint of the Pyro model
                     (``inference.traces``), exact complex-Normal likelihood;
* ``reference loop`` the style of the public reference code (avse-vae ``MCEM_algo.py``): numpy
                     float64 state in (L, T)/(F, T) layout, conversion numpy -> torch -> numpy
                     around every decoder call, TWO decoder calls per step (proposal, then the
                     current state after accept/reject), per-frame accept, sd 0.1;
* ``pyro RWKernel``  ``pyro.infer.mcmc.RandomWalkKernel`` under ``pyro.infer.MCMC`` on the same
                     Pyro model: one accept/reject for all T x L coordinates at once.

Reported: steps/s (median of ``--repeats`` timed blocks), frame updates/s (steps/s x T), mean
acceptance, ESS per frame (averaged over the T x L coordinates of one chain of ``--ess-steps``
steps after ``--warmup`` steps), ESS/s, and the achieved decoder GFLOP/s against the decoder's FLOP
count ``2 (L 128 + 128 F) + 128 + F`` per frame per call (matmuls, tanh and exp counted as one
FLOP per element); ``decoder only`` is the decoder called alone, the ceiling for that number.
Ratios are against the reference loop and Pyro's kernel, measured in the same process.

Run it alone (it is heavy): ``flock /tmp/avgen-heavy.lock python benchmarks/mh_speed.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyro
import torch
from pyro.infer import MCMC
from pyro.infer.mcmc import RandomWalkKernel
from torch import nn

from inference.adaptation import DualAveraging
from inference.chain import MALA, RWM, run_chain
from inference.diagnostics import effective_sample_size
from inference.gaussian_scale import GaussianScaleLogDensity, gaussian_scale_model
from inference.nmf import nmf_variance
from inference.traces import per_frame_log_density

HIDDEN = 128


@dataclass
class Problem:
    decoder: nn.Module
    x: torch.Tensor  # complex (T, F)
    power: torch.Tensor  # (T, F)
    noise_variance: torch.Tensor  # (T, F)
    z0: torch.Tensor  # (T, L) common starting point
    latent_dim: int

    @property
    def n_frames(self) -> int:
        return self.x.shape[0]

    @property
    def n_bins(self) -> int:
        return self.x.shape[1]


def make_problem(n_frames: int, n_bins: int, latent_dim: int, seed: int) -> Problem:
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    decoder = nn.Sequential(nn.Linear(latent_dim, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, n_bins))
    with torch.no_grad():
        decoder[2].weight.mul_(4.0)  # log-variances with a spread of about +-1 across z
    decoder.requires_grad_(False)
    z_true = torch.randn(n_frames, latent_dim, generator=gen)
    source_variance = decoder(z_true).exp()
    W = torch.rand(n_bins, 8, generator=gen).square()
    H = torch.rand(8, n_frames, generator=gen)
    noise_variance = nmf_variance(W, H)
    noise_variance *= source_variance.mean() / noise_variance.mean()

    def complex_normal(variance):
        re = torch.randn(variance.shape, generator=gen)
        im = torch.randn(variance.shape, generator=gen)
        return torch.complex(re, im) * (variance / 2).sqrt()

    x = complex_normal(source_variance) + complex_normal(noise_variance)
    z0 = torch.randn(n_frames, latent_dim, generator=gen)
    return Problem(decoder, x, x.abs().square(), noise_variance, z0, latent_dim)


def decoder_flops_per_frame(latent_dim: int, n_bins: int) -> int:
    """2 (L 128 + 128 F) multiply-adds, plus 128 tanh and F exp (one FLOP each)."""
    return 2 * (latent_dim * HIDDEN + HIDDEN * n_bins) + HIDDEN + n_bins


def median_rate(block: Callable[[], int], repeats: int) -> float:
    """Median over ``repeats`` of (steps done by ``block``) / seconds."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        n = block()
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def mean_ess(samples: torch.Tensor) -> float:
    """Mean ESS over all coordinates of one chain ``(S, T, L)``."""
    return float(effective_sample_size(samples, chain_dim=None).mean())


@dataclass
class Row:
    name: str
    steps_per_s: float
    decoder_calls_per_step: float
    acceptance: float
    ess: float
    ess_per_s: float


# ---------------------------------------------------------------------------------------------
# Vectorised kernels


def run_vectorised(
    problem: Problem,
    kernel,
    log_density,
    *,
    adapt: bool,
    step: float,
    steps_per_block: int,
    repeats: int,
    warmup: int,
    ess_steps: int,
    name: str,
    calls: float,
    seed: int,
) -> Row:
    gen = torch.Generator().manual_seed(seed)
    n_frames = problem.n_frames
    step_size = torch.full((n_frames,), step)
    warm = run_chain(
        kernel,
        problem.z0.clone(),
        log_density,
        n_steps=warmup,
        burn_in=warmup,
        step_size=step_size,
        adapt=DualAveraging(kernel.target_acceptance) if adapt else None,
        generator=gen,
    )
    step_size = warm.step_size
    state = warm.state

    def block() -> int:
        nonlocal state
        for _ in range(steps_per_block):
            state, _ = kernel.step(state, log_density, step_size, gen)
        return steps_per_block

    rate = median_rate(block, repeats)
    start = time.perf_counter()
    result = run_chain(
        kernel, state, log_density, n_steps=ess_steps, step_size=step_size, generator=gen
    )
    seconds = time.perf_counter() - start
    ess = mean_ess(result.samples)
    return Row(name, rate, calls, float(result.acceptance_rate.mean()), ess, ess / seconds)


# ---------------------------------------------------------------------------------------------
# Reference-style loop (numpy <-> torch at every step, two decoder calls)


def reference_style_chain(
    problem: Problem,
    n_steps: int,
    proposal_variance: float,
    rng: np.random.Generator,
    z_init: np.ndarray,
    keep: bool,
) -> tuple[np.ndarray, np.ndarray | None, float]:
    """MH in the style of the public MCEM reference code; returns (Z, samples, acceptance).

    As there: numpy float64 state in (D, N) / (F, N) layout, float64 NMF variance and gains,
    ``|X|^2`` recomputed in the acceptance ratio, a float32 torch conversion around every decoder
    call, and two decoder calls per step (the proposal, then the current state after the
    accept/reject); decoder calls under ``torch.no_grad()``.
    """
    decoder = problem.decoder

    def decode(z: np.ndarray) -> np.ndarray:  # (D, N) float64 -> (F, N) variances, float32
        with torch.no_grad():
            return decoder(torch.from_numpy(z.T.astype(np.float32))).exp().numpy().T

    X = problem.x.T.numpy()  # (F, N) complex64, as an STFT
    V = problem.noise_variance.T.double().numpy()  # W @ H in float64
    a = np.ones((1, problem.n_frames))  # gains
    Z = z_init.astype(np.float64)
    n_latent, n_frames = Z.shape
    speech_var = decode(Z) * a
    samples = np.empty((n_steps, n_latent, n_frames), dtype=np.float32) if keep else None
    accepted = 0.0
    for n in range(n_steps):
        Z_prime = Z + np.sqrt(proposal_variance) * rng.standard_normal((n_latent, n_frames))
        speech_var_prime = decode(Z_prime) * a
        acc_prob = np.sum(
            np.log(V + speech_var)
            - np.log(V + speech_var_prime)
            + (1 / (V + speech_var) - 1 / (V + speech_var_prime)) * np.abs(X) ** 2,
            axis=0,
        ) + 0.5 * np.sum(Z**2 - Z_prime**2, axis=0)
        is_acc = np.log(rng.random((1, n_frames))) < acc_prob
        is_acc = is_acc.reshape((n_frames,))
        Z[:, is_acc] = Z_prime[:, is_acc]
        speech_var = decode(Z) * a
        accepted += is_acc.mean()
        if samples is not None:
            samples[n] = Z
    return Z, samples, accepted / n_steps


def run_reference(
    problem: Problem, *, steps_per_block: int, repeats: int, warmup: int, ess_steps: int, seed: int
) -> Row:
    rng = np.random.default_rng(seed)
    Z, _, _ = reference_style_chain(
        problem, warmup, 0.01, rng, problem.z0.T.numpy().copy(), keep=False
    )

    def block() -> int:
        nonlocal Z
        Z, _, _ = reference_style_chain(problem, steps_per_block, 0.01, rng, Z, keep=False)
        return steps_per_block

    rate = median_rate(block, repeats)
    start = time.perf_counter()
    _, samples, acceptance = reference_style_chain(problem, ess_steps, 0.01, rng, Z, keep=True)
    seconds = time.perf_counter() - start
    ess = mean_ess(torch.from_numpy(samples).transpose(1, 2))
    return Row("reference loop", rate, 2.0, acceptance, ess, ess / seconds)


# ---------------------------------------------------------------------------------------------
# Pyro's RandomWalkKernel


def run_pyro_rwk(
    problem: Problem, *, steps_per_block: int, repeats: int, warmup: int, ess_steps: int, seed: int
) -> Row:
    args = (problem.x, problem.decoder, problem.noise_variance, problem.latent_dim)
    pyro.set_rng_seed(seed)
    kernel = RandomWalkKernel(gaussian_scale_model, init_step_size=0.1)
    marks: dict[str, float] = {}

    def hook(kernel, params, stage, i):
        if stage.startswith("Warmup") and i == warmup - 1:
            marks["sampling_starts"] = time.perf_counter()

    mcmc = MCMC(
        kernel,
        num_samples=ess_steps,
        warmup_steps=warmup,
        hook_fn=hook,
        initial_params={"z": problem.z0.clone()},
        disable_progbar=True,
    )
    mcmc.run(*args)
    seconds = time.perf_counter() - marks["sampling_starts"]
    samples = mcmc.get_samples()["z"]
    ess = mean_ess(samples)
    acceptance = float(mcmc.diagnostics()["acceptance rate"]["chain 0"])
    # Speed of the adapted kernel, through MCMC as a user runs it (no further adaptation).
    params = {"z": samples[-1].clone()}

    def block() -> int:
        nonlocal params
        for _ in range(steps_per_block):
            params = kernel.sample(params)
        return steps_per_block

    rate = median_rate(block, repeats)
    return Row("pyro RWKernel", rate, 1.0, acceptance, ess, ess / seconds)


# ---------------------------------------------------------------------------------------------


def decoder_only_rate(problem: Problem, repeats: int, calls: int = 100) -> float:
    z = problem.z0.clone()

    def block() -> int:
        with torch.no_grad():
            for _ in range(calls):
                problem.decoder(z).exp_()
        return calls

    return median_rate(block, repeats)


def format_table(rows: list[Row], problem: Problem, decoder_rate: float) -> str:
    flops = decoder_flops_per_frame(problem.latent_dim, problem.n_bins) * problem.n_frames
    reference = next(r for r in rows if r.name == "reference loop")
    pyro_row = next(r for r in rows if r.name == "pyro RWKernel")
    header = (
        f"{'method':<18} {'steps/s':>9} {'frame-upd/s':>12} {'accept':>7} "
        f"{'ESS/frame':>10} {'ESS/s':>9} {'GFLOP/s':>8} {'x ref steps':>11} "
        f"{'x ref ESS/s':>11} {'x pyro ESS/s':>12}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        gflops = r.steps_per_s * r.decoder_calls_per_step * flops / 1e9
        lines.append(
            f"{r.name:<18} {r.steps_per_s:>9.1f} {r.steps_per_s * problem.n_frames:>12.0f} "
            f"{r.acceptance:>7.3f} {r.ess:>10.2f} {r.ess_per_s:>9.2f} {gflops:>8.2f} "
            f"{r.steps_per_s / reference.steps_per_s:>11.1f} "
            f"{r.ess_per_s / reference.ess_per_s:>11.1f} "
            f"{r.ess_per_s / max(pyro_row.ess_per_s, 1e-12):>12.1f}"
        )
    lines.append(
        f"{'decoder only':<18} {decoder_rate:>9.1f} {'':>12} {'':>7} {'':>10} {'':>9} "
        f"{decoder_rate * flops / 1e9:>8.2f}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--bins", type=int, default=513)
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--block", type=int, default=50, help="steps per timed block")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--ess-steps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    problem = make_problem(args.frames, args.bins, args.latent, args.seed)
    fused = GaussianScaleLogDensity(problem.power, problem.decoder, problem.noise_variance)
    generic = per_frame_log_density(
        gaussian_scale_model,
        "z",
        problem.x,
        problem.decoder,
        problem.noise_variance,
        problem.latent_dim,
    )
    common = {
        "repeats": args.repeats,
        "warmup": args.warmup,
        "ess_steps": args.ess_steps,
        "seed": args.seed,
    }
    rows = [
        run_vectorised(
            problem,
            RWM,
            fused,
            adapt=False,
            step=0.1,
            name="rwm fused",
            calls=1.0,
            steps_per_block=args.block,
            **common,
        ),
        run_vectorised(
            problem,
            RWM,
            fused,
            adapt=True,
            step=0.1,
            name="rwm fused adapt",
            calls=1.0,
            steps_per_block=args.block,
            **common,
        ),
        run_vectorised(
            problem,
            RWM,
            generic,
            adapt=True,
            step=0.1,
            name="rwm pyro-trace",
            calls=1.0,
            steps_per_block=max(args.block // 5, 5),
            **common,
        ),
        run_reference(problem, steps_per_block=max(args.block // 5, 5), **common),
        run_pyro_rwk(problem, steps_per_block=max(args.block // 5, 5), **common),
    ]
    decoder_rate = decoder_only_rate(problem, args.repeats)
    # MALA last: its autograd backward can start a second OpenMP thread team that slows every
    # later multi-threaded op in this process on a loaded machine (see docs/inference.md).
    rows.append(
        run_vectorised(
            problem,
            MALA,
            fused,
            adapt=True,
            step=0.1,
            name="mala fused adapt",
            calls=1.0,
            steps_per_block=args.block,
            **common,
        )
    )
    print(
        f"T={problem.n_frames} F={problem.n_bins} L={problem.latent_dim} hidden={HIDDEN} "
        f"threads={args.threads} repeats={args.repeats} warmup={args.warmup} "
        f"ess_steps={args.ess_steps} torch={torch.__version__} pyro={pyro.__version__}"
    )
    print(
        f"decoder FLOPs per frame per call: "
        f"{decoder_flops_per_frame(problem.latent_dim, problem.n_bins)}"
    )
    print(format_table(rows, problem, decoder_rate))
    print("MALA's GFLOP/s counts the forward pass only (its backward costs about as much again).")


if __name__ == "__main__":
    main()
