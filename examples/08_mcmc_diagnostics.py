# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 08 — Teaching MCMC diagnostics on the enhancement posterior
#
# The E-step of unsupervised speech enhancement samples $p(z_t\mid x_t)$ frame by frame. Does
# the sampler mix? This notebook answers with the standard tools, on the posterior of a bundled
# MIN-VAE given a bundled noisy clip at NMF parameters from a short enhancement:
#
# 1. **trace plots** of several chains started apart (over-dispersed starts);
# 2. **R-hat**: the classic split R-hat and the rank-normalised one of Vehtari, Gelman, Simpson,
#    Carpenter & Bürkner (2021), ArviZ's default; below 1.01 is their threshold;
# 3. **ESS**: bulk and tail effective sample sizes (same paper), per latent coordinate;
# 4. **Geweke's (1992) z-score**: the mean of the first 10 % of a chain against the last 50 %,
#    each with its own Monte-Carlo standard error (a chain still drifting fails it). Not to be
#    confused with Geweke's (2004) joint-distribution *test of a sampler's correctness*
#    (`inference.diagnostics.geweke_test`, run by the test suite on every kernel);
# 5. **what adaptation changes**: the papers' random walk with a fixed step (sd 0.1) against the
#    same walk with one step size adapted per frame, and MALA adapted per frame.
#
# `AVGEN_EXAMPLE_FAST=1` runs a tiny setting (the test's); the numbers quoted in the text are
# from the full setting.

# %%
from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from avgen.audio import VAE_STFT, frames_major, load_audio, stft
from avgen.models import load_model
from avgen.models.vae.networks import lip_side
from avgen.models.vae.noisy_posterior import noisy_posterior
from avgen.pipelines.vae_nmf import EMSchedule, enhance
from avgen.samples import bundled_clip_dir
from avgen.video_align import lips_for_audio, read_video
from inference.adaptation import DualAveraging
from inference.chain import MALA, RWM, run_chain
from inference.convergence import (
    effective_sample_size,
    ess_bulk,
    ess_tail,
    rank_normalized_split_rhat,
    split_rhat,
)

FAST = os.environ.get("AVGEN_EXAMPLE_FAST", "0") == "1"
OUT = Path(os.environ.get("AVGEN_EXAMPLE_OUTPUT", "runs/examples")) / "08_mcmc_diagnostics"
OUT.mkdir(parents=True, exist_ok=True)
SEED, CHAINS = 0, 4
N_FRAMES = 3 if FAST else 16
STEPS, BURN_IN = (240, 80) if FAST else (4000, 1000)
LAYOUT = "draw chain frame dim"  # run_chain with chains: (draws, chains, frames, dims)
torch.set_num_threads(1)

# %% [markdown]
# ## The target: a MIN-VAE posterior on a few frames of the bundled clip

# %%
clip = bundled_clip_dir("demo")  # the bundled clip (avgen/assets/samples/demo)
seconds = 0.6 if FAST else 2.0
noisy = load_audio(clip / "noisy.wav")[: int(seconds * 16_000)]
video, fps = read_video(clip / "lips.npy", 25.0)
video = video[: int(seconds * fps) + 1]
model = load_model("min-vae").eval()
result = enhance(
    noisy, model, lips=video, fps=fps, schedule=EMSchedule(n_iter=3 if FAST else 20), seed=SEED
)
x = frames_major(stft(noisy, VAE_STFT))
lips = lips_for_audio(video, fps, noisy.numel(), lip_size=lip_side(model.config.lip_dim))
frames = torch.arange(x.shape[0] // 2, x.shape[0] // 2 + N_FRAMES)
posterior = noisy_posterior(model, x, lips, result.noise, frames=frames)
generator = torch.Generator().manual_seed(SEED)
starts = posterior.initial_position + torch.randn(
    CHAINS, *posterior.initial_position.shape, generator=generator
)  # over-dispersed: the encoder's mean plus unit noise, per chain

# %% [markdown]
# ## Three samplers from the same starts

# %%
settings = {
    "RWM, papers' step 0.1": (RWM, 0.1, None),
    "RWM, adapted per frame": (RWM, 0.1, DualAveraging(0.3)),
    "MALA, adapted per frame": (MALA, 0.1, DualAveraging(0.574)),
}
runs = {
    name: run_chain(
        kernel,
        starts,
        posterior.log_density,
        n_steps=STEPS,
        burn_in=BURN_IN,
        step_size=step,
        adapt=adapt,
        generator=torch.Generator().manual_seed(SEED),
    )
    for name, (kernel, step, adapt) in settings.items()
}

# %% [markdown]
# ## 1. Trace plots
#
# Good mixing looks like a "hairy caterpillar": the chains overlap and cross many times. Bad
# mixing: each chain wanders slowly in its own region, or sits flat (rejections).

# %%
fig, axes = plt.subplots(len(runs), 1, figsize=(10, 2.2 * len(runs)), sharex=True)
for ax, (name, run) in zip(axes, runs.items()):
    for chain in range(CHAINS):
        ax.plot(run.samples[:, chain, 0, 0].numpy(), lw=0.6)
    ax.set_title(f"{name}: z[frame 0, dim 0], {CHAINS} chains", fontsize=9)
axes[-1].set_xlabel("draw after burn-in")
fig.tight_layout()
fig.savefig(OUT / "traces.png", dpi=110)
plt.show()

# %% [markdown]
# ## 2–3. R-hat and ESS, per latent coordinate
#
# One value per (frame, dimension). The layout is named (`"draw chain frame dim"`): without it
# the functions refuse to guess, since one chain's `(draws, frames, dims)` would otherwise be
# read with frames as chains.

# %%
summary: dict[str, dict[str, float]] = {}
for name, run in runs.items():
    s = run.samples
    summary[name] = {
        "acceptance": float(run.acceptance_rate.mean()),
        "step_size_median": float(run.step_size.median()),
        "rank_rhat_max": float(rank_normalized_split_rhat(s, layout=LAYOUT).max()),
        "classic_rhat_max": float(split_rhat(s, layout=LAYOUT).max()),
        "bulk_ess_median": float(ess_bulk(s, layout=LAYOUT).median()),
        "tail_ess_median": float(ess_tail(s, layout=LAYOUT).median()),
        "share_rhat_below_1.01": float(
            (rank_normalized_split_rhat(s, layout=LAYOUT) < 1.01).double().mean()
        ),
    }
header = f"{'sampler':26s} {'accept':>6s} {'step':>6s} {'R^ rank':>8s} {'R^ classic':>10s}"
print(header + f" {'ESS bulk':>8s} {'ESS tail':>8s} {'R^<1.01':>7s}")
for name, r in summary.items():
    print(
        f"{name:26s} {r['acceptance']:6.2f} {r['step_size_median']:6.3f} "
        f"{r['rank_rhat_max']:8.3f} {r['classic_rhat_max']:10.3f} {r['bulk_ess_median']:8.1f} "
        f"{r['tail_ess_median']:8.1f} {r['share_rhat_below_1.01']:7.2f}"
    )

# %% [markdown]
# ## 4. Geweke's (1992) convergence z-score, per chain
#
# $z=(\bar\theta_A-\bar\theta_B)/\sqrt{\hat s_A^2/\mathrm{ESS}_A+\hat s_B^2/\mathrm{ESS}_B}$ with
# $A$ the first 10 % and $B$ the last 50 % of the retained draws; under stationarity it is about
# $\mathcal N(0,1)$, so the share of coordinates with $|z|>2$ should be about 5 %.

# %%


def geweke_z(draws: torch.Tensor, first: float = 0.1, last: float = 0.5) -> torch.Tensor:
    """Per chain and coordinate, for ``draws`` of layout ``(draw, chain, ...)``."""
    n = draws.shape[0]
    a, b = draws[: int(first * n)], draws[int((1 - last) * n) :]

    def mean_and_se(part: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ess = effective_sample_size(part, sample_dim=0, chain_dim=None)  # each chain alone
        return part.mean(0), (part.var(0) / ess).sqrt()

    (mean_a, se_a), (mean_b, se_b) = mean_and_se(a), mean_and_se(b)
    return (mean_a - mean_b) / (se_a.square() + se_b.square()).sqrt()


for name, run in runs.items():
    z = geweke_z(run.samples.double())
    summary[name]["geweke_share_abs_z_above_2"] = float((z.abs() > 2).double().mean())
    print(f"{name:26s} share of |z| > 2: {summary[name]['geweke_share_abs_z_above_2']:.2f}")

# %% [markdown]
# ## 5. What adaptation changed
#
# The papers' step (sd 0.1 in 32 dimensions) is the same for every frame; dual averaging
# (Hoffman & Gelman 2014) finds one step per frame for a target acceptance, and MALA's gradient
# drift lets it take larger steps at a higher acceptance. The per-frame step sizes it chose:

# %%
fig, ax = plt.subplots(figsize=(8, 2.8))
for name, run in runs.items():
    ax.plot(run.step_size.expand(N_FRAMES).numpy(), marker="o", label=name)
ax.set_xlabel("frame")
ax.set_ylabel("step size (after burn-in)")
ax.set_yscale("log")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(OUT / "step_sizes.png", dpi=110)
plt.show()

# %% [markdown]
# ## ArviZ, if installed
#
# `to_inference_data` names the dimensions, so `az.summary` reports per (frame, dim) and its
# `r_hat` is the rank-normalised one above.

# %%
try:
    import arviz as az

    from inference.arviz_export import to_inference_data

    idata = to_inference_data(runs["MALA, adapted per frame"].samples, layout=LAYOUT)
    print(az.summary(idata, coords={"frame": [0], "dim": [0, 1, 2]}, kind="diagnostics"))
except ImportError:
    print("pip install 'avgen[arviz]' for the ArviZ summary")

(OUT / "summary.json").write_text(json.dumps(summary, indent=2))
