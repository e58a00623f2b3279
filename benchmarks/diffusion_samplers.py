"""Accuracy and speed of the diffusion samplers (``inference.diffusion``).

Three tables, each printed as it is computed:

1. ``prior``: discretisation bias on Gaussian data (d = 5, condition number 40, exact denoiser,
   Karras schedule 0.002..80, start at the exact noisy marginal): the largest entry of
   ``|Sigma^{-1/2} Cov(x) Sigma^{-1/2} - I|``. Deterministic samplers: exact (affine push-forward,
   no Monte Carlo). Stochastic ones: ``--chains`` chains (its Monte-Carlo noise floor is printed).
   These fix the allowances of ``tests/inference/diffusion/test_diffusion_samplers_gaussian.py``.
2. ``posterior``: whitened mean and covariance errors of each likelihood approximation against the
   closed-form posterior of ``y = A x0 + n`` (the problems of ``test_diffusion_posterior.py``).
3. ``speed``: median wall time of a full run (``--repeats`` runs) with a small MLP denoiser,
   as a ratio to a hand-written Euler loop with the same number of steps (the baseline: what the
   generic loop and its hooks cost), measured in the same process.

Run: ``flock /tmp/avgen-heavy.lock python benchmarks/diffusion_samplers.py [--only prior]``.
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import time

import torch
from torch import nn

from inference.diffusion import (
    DPS,
    GaussianDenoiser,
    GaussianLikelihood,
    PseudoLikelihood,
    gaussian_log_likelihood,
    get_sampler,
    karras_sigmas,
    linear_gaussian_posterior,
    posterior_sample,
    random_gaussian,
    run_sampler,
)

SIGMA_MIN, SIGMA_MAX = 0.002, 80.0


def inverse_sqrt(cov: torch.Tensor) -> torch.Tensor:
    evals, evecs = torch.linalg.eigh(cov)
    return evecs @ torch.diag(evals.rsqrt()) @ evecs.T


def whitened_errors(x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> tuple[float, float]:
    w = (x.double() - mean) @ inverse_sqrt(cov).T
    eye = torch.eye(mean.numel(), dtype=torch.float64)
    return float(w.mean(0).abs().max()), float((torch.cov(w.T) - eye).abs().max())


def marginal_draws(mean, cov, n, g):
    chol = torch.linalg.cholesky(cov + SIGMA_MAX**2 * torch.eye(mean.numel(), dtype=cov.dtype))
    return mean + torch.randn(n, mean.numel(), generator=g, dtype=cov.dtype) @ chol.T


def exact_bias(target: GaussianDenoiser, name: str, steps: int, **options) -> float:
    d = target.dim
    pts = torch.cat([target.mean[None], target.mean[None] + torch.eye(d, dtype=torch.float64)])
    out = get_sampler(name)(target, pts, karras_sigmas(steps, SIGMA_MIN, SIGMA_MAX), **options)
    m = (out[1:] - out[0]).T
    w = inverse_sqrt(target.cov)
    cov = w @ m @ target.marginal_cov(SIGMA_MAX) @ m.T @ w.T
    return float((cov - torch.eye(d, dtype=torch.float64)).abs().max())


def mc_bias(target, name, steps, chains, seed=0, **options) -> float:
    g = torch.Generator().manual_seed(seed)
    x_T = marginal_draws(target.mean, target.cov, chains, g)
    x = get_sampler(name)(
        target, x_T, karras_sigmas(steps, SIGMA_MIN, SIGMA_MAX), generator=g, **options
    )
    return whitened_errors(x, target.mean, target.cov)[1]


def table_prior(chains: int) -> None:
    target = random_gaussian(5, seed=5)
    d = target.dim
    # Noise floor: expected max |N(0, sqrt(2/N))| over the d(d+1)/2 entries, roughly.
    floor = 2.5 * math.sqrt(2.0 / chains)
    print(
        f"\n## prior: whitened covariance bias, d={d} (stochastic: {chains} chains, "
        f"noise floor ~{floor:.4f})\n"
    )
    print(f"| {'sampler':<22} | " + " | ".join(f"{n:>7}" for n in (50, 100, 200, 400, 800)) + " |")
    print("|" + "-" * 24 + "|" + "|".join("-" * 9 for _ in range(5)) + "|")
    configs = [
        ("euler", {}, False, (50, 100, 200, 400, 800)),
        ("ddim", {}, False, (50, 100, 200, 400, 800)),
        ("heun", {}, False, (50, 100, 200, 400, 800)),
        ("dpmpp_2m", {}, False, (50, 100, 200, 400, 800)),
        ("heun", {"s_churn": 20.0}, True, (100, 200)),
        ("pc", {}, True, (200, 400)),
        ("pc", {"step_rule": "norm", "snr": 0.16}, True, (400,)),
        ("pc", {"step_rule": "norm", "snr": 0.05}, True, (400,)),
        ("ddim", {"eta": 1.0}, True, (400, 800)),
    ]
    for name, opts, stochastic, steps in configs:
        cells = []
        for n in (50, 100, 200, 400, 800):
            if n not in steps:
                cells.append(f"{'':>7}")
                continue
            bias = (
                mc_bias(target, name, n, chains, **opts)
                if stochastic
                else exact_bias(target, name, n, **opts)
            )
            cells.append(f"{bias:7.4f}")
        label = name + ("" if not opts else " " + ",".join(f"{k}={v}" for k, v in opts.items()))
        print(f"| {label:<22} | " + " | ".join(cells) + " |", flush=True)


def projection_problem():
    prior = random_gaussian(5, seed=5)
    g = torch.Generator().manual_seed(3)
    A = torch.randn(3, 5, generator=g, dtype=torch.float64) / math.sqrt(5)
    return prior, *_observe(prior, A, torch.tensor([0.02, 0.02, 0.05], dtype=torch.float64), 4)


def denoising_problem():
    prior = random_gaussian(5, seed=5)
    var = torch.tensor([0.02, 0.05, 0.1, 0.1, 0.2], dtype=torch.float64)
    return prior, *_observe(prior, torch.eye(5, dtype=torch.float64), var, 6)


def _observe(prior, A, var, seed):
    g = torch.Generator().manual_seed(seed)
    evals, evecs = torch.linalg.eigh(prior.cov)
    offsets = torch.tensor([2.0, -2.0, 1.5, 2.0, -1.5], dtype=torch.float64)
    x0 = prior.mean + evecs @ (evals.sqrt() * offsets)
    y = A @ x0 + var.sqrt() * torch.randn(A.shape[0], generator=g, dtype=torch.float64)
    mean, cov = linear_gaussian_posterior(prior.mean, prior.cov, A, y, var)
    return A, y, var, mean, cov


def table_posterior(chains: int) -> None:
    print(f"\n## posterior: whitened errors against the closed form ({chains} chains)\n")
    print(
        f"| {'problem':<10} | {'likelihood':<28} | {'sampler':<18} | {'mean err':>8} | "
        f"{'cov err':>8} | {'prior dist':>10} |"
    )
    print(f"|{'-' * 12}|{'-' * 30}|{'-' * 20}|{'-' * 10}|{'-' * 10}|{'-' * 12}|")
    for pname, problem in (("projection", projection_problem), ("denoising", denoising_problem)):
        prior, A, y, var, mean, cov = problem()
        Af, yf, vf = A.float(), y.float(), var.float()

        def forward(x, params, Af=Af):
            return x @ Af.T

        fwd = None if pname == "denoising" else forward
        prior_dist = float((inverse_sqrt(cov) @ (prior.mean - mean)).abs().max())
        rows = [
            ("exact (tweedie)", GaussianLikelihood(yf, fwd, vf), "dpmpp_2m", 100, {}),
            ("exact (tweedie)", GaussianLikelihood(yf, fwd, vf), "heun", 100, {"s_churn": 20.0}),
            (
                "Pi-GDM (isotropic, sd=1)",
                GaussianLikelihood(yf, fwd, vf, covariance="isotropic", sigma_data=1.0),
                "heun",
                100,
                {},
            ),
            (
                "Pi-GDM (isotropic, sd=1)",
                GaussianLikelihood(yf, fwd, vf, covariance="isotropic", sigma_data=1.0),
                "pc",
                400,
                {},
            ),
            (
                "DPS score form (none)",
                GaussianLikelihood(yf, fwd, vf, covariance="none"),
                "pc",
                400,
                {},
            ),
        ]
        for zeta in (0.005, 0.01, 0.02):
            rows.append(
                (
                    f"DPS zeta={zeta}",
                    DPS(gaussian_log_likelihood(yf, fwd, vf), zeta),
                    "ddim",
                    400,
                    {"eta": 1.0},
                )
            )
        if pname == "denoising":
            rows += [
                ("UDiffSE pseudo, lambda=1", PseudoLikelihood(yf, vf), "pc", 400, {}),
                ("UDiffSE pseudo, lambda=1", PseudoLikelihood(yf, vf), "pc", 400, {"snr": 0.5}),
                (
                    "UDiffSE pseudo, lambda=1.5",
                    PseudoLikelihood(yf, vf, weight=1.5),
                    "pc",
                    400,
                    {"snr": 0.5},
                ),
                ("UDiffSE pseudo, lambda=1", PseudoLikelihood(yf, vf), "heun", 100, {}),
            ]
        for label, lik, sampler, steps, opts in rows:
            g = torch.Generator().manual_seed(1)
            x_T = marginal_draws(mean, cov, chains, g).float()
            x = posterior_sample(
                prior,
                x_T,
                karras_sigmas(steps, SIGMA_MIN, SIGMA_MAX),
                lik,
                sampler=sampler,
                sampler_options=opts,
                generator=g,
            ).x
            me, ce = whitened_errors(x, mean, cov)
            sname = f"{sampler} {steps}" + (
                "" if not opts else " " + ",".join(f"{k}={v}" for k, v in opts.items())
            )
            print(
                f"| {pname:<10} | {label:<28} | {sname:<18} | {me:8.3f} | {ce:8.3f} | "
                f"{prior_dist:10.2f} |",
                flush=True,
            )


class MLPDenoiser(nn.Module):
    """A small EDM-style network, for timing only (weights random, fixed)."""

    def __init__(self, dim: int, width: int = 512) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim + 1, width),
            nn.SiLU(),
            nn.Linear(width, width),
            nn.SiLU(),
            nn.Linear(width, dim),
        )

    def forward(self, x, sigma, cond=None):
        inp = torch.cat([x / (1 + sigma[:, None] ** 2).sqrt(), sigma.log()[:, None] / 4], dim=1)
        return x / (1 + sigma[:, None] ** 2) + self.net(inp)


def table_speed(repeats: int, steps: int, batch: int, dim: int) -> None:
    """Round-robin timing (every configuration once per round, ``repeats`` rounds) so that a
    change of machine load hits all rows alike; medians per configuration."""
    torch.manual_seed(0)
    model = MLPDenoiser(dim).eval()
    x_T = SIGMA_MAX * torch.randn(batch, dim)
    sigmas = karras_sigmas(steps, SIGMA_MIN, SIGMA_MAX)
    pigdm = GaussianLikelihood(torch.zeros(dim), None, 0.1, covariance="isotropic", sigma_data=1.0)

    def hand_written_euler(g: torch.Generator) -> int:
        x = x_T
        with torch.no_grad():
            for s, s_next in itertools.pairwise(sigmas.tolist()):
                d = (x - model(x, torch.full((batch,), s), None)) / s
                x = x + (s_next - s) * d
        return steps

    def sampler_run(name: str, opts: dict, likelihood=None):
        def run(g: torch.Generator) -> int:
            spec = get_sampler(name)
            res = run_sampler(
                spec.step,
                model,
                x_T,
                sigmas,
                generator=g,
                likelihood=likelihood,
                options=spec.step_options(steps, **opts),
            )
            return res.n_evals

        return run

    rows = [("hand-written Euler loop", hand_written_euler)]
    for name, opts in [
        ("euler", {}),
        ("heun", {}),
        ("heun", {"s_churn": 20.0}),
        ("pc", {}),
        ("ddim", {}),
        ("ddim", {"eta": 1.0}),
        ("dpmpp_2m", {}),
    ]:
        label = name + ("" if not opts else " " + ",".join(f"{k}={v}" for k, v in opts.items()))
        rows.append((label, sampler_run(name, opts)))
    rows.append(("heun + Pi-GDM guidance", sampler_run("heun", {}, pigdm)))
    rows.append(("dpmpp_2m + Pi-GDM guidance", sampler_run("dpmpp_2m", {}, pigdm)))

    times: dict[str, list[float]] = {label: [] for label, _ in rows}
    evals: dict[str, int] = {}
    for r in range(repeats + 1):  # round 0 warms up and is discarded
        for label, fn in rows:
            t0 = time.perf_counter()
            evals[label] = fn(torch.Generator().manual_seed(r))
            if r > 0:
                times[label].append(time.perf_counter() - t0)
    base = statistics.median(times["hand-written Euler loop"])
    print(
        f"\n## speed: {steps} steps, batch {batch} x {dim}, MLP denoiser, median of {repeats} "
        f"round-robin runs, {torch.get_num_threads()} thread(s)\n"
    )
    print(f"| {'sampler':<26} | {'evals':>5} | {'median s':>8} | {'ms/eval':>7} | {'vs hand':>8} |")
    print(f"|{'-' * 28}|{'-' * 7}|{'-' * 10}|{'-' * 9}|{'-' * 10}|")
    for label, _ in rows:
        med = statistics.median(times[label])
        print(
            f"| {label:<26} | {evals[label]:5d} | {med:8.3f} | "
            f"{1e3 * med / evals[label]:7.2f} | {med / base:8.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["prior", "posterior", "speed"])
    parser.add_argument("--chains", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--dim", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.only in (None, "prior"):
        table_prior(args.chains)
    if args.only in (None, "posterior"):
        table_posterior(args.chains)
    if args.only in (None, "speed"):
        table_speed(args.repeats, args.steps, args.batch, args.dim)


if __name__ == "__main__":
    main()
